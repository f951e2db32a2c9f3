import assert from "node:assert/strict";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import * as sockjetHeap from "../../src/heap/index.js";
import * as sockjet from "../../src/index.js";
import * as sockjetReconnecting from "../../src/reconnecting/index.js";
import * as sockjetRedis from "../../src/redis/index.js";
import * as sockjetResume from "../../src/resume/client.js";
import { RedisCluster } from "../pubsub/redis-cluster-helpers.js";
import { freePort, RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";
import { javascriptBlocks, README, runSnippet, type Snippet } from "./readme-snippets.js";

// Issue 14 item 8: every JavaScript block of README.md runs as written, in this process, against the
// sources: its imports get sockjet's classes (subclassed only to record what the snippet makes, so that the
// test can reach and stop it), and only its ports are rewritten (8080 → an OS-chosen port). Each block has
// a check of what it promises; a block without one fails, so a new README example cannot go untested. The
// blocks are also type-checked against the built package (test/types/consumer.test.ts).

const { WebSocket, WebSocketServer, WebSocketStream } = sockjet;
type Server = InstanceType<typeof WebSocketServer>;
type Socket = InstanceType<typeof WebSocket>;

const WAIT_MS = 5000;

/** What one run of a snippet made, so that the test can talk to it and stop it. */
class Made {
  servers: Server[] = [];
  adapters: sockjetRedis.RedisAdapter[] = [];
  clients: Socket[] = [];
  reconnecting: sockjetReconnecting.ReconnectingWebSocket[] = [];
  resumable: sockjetResume.ResumableWebSocket[] = [];
  headroomCalls: { args: Parameters<typeof sockjetHeap.keepHeapHeadroom>; stop: () => void }[] = [];
  logs: unknown[][] = [];

  modules(): Record<string, unknown> {
    const made = this;
    class RecordedServer extends WebSocketServer {
      constructor(...args: ConstructorParameters<typeof WebSocketServer>) {
        super(...args);
        made.servers.push(this);
      }
    }
    class RecordedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        made.clients.push(this);
      }
    }
    class RecordedAdapter extends sockjetRedis.RedisAdapter {
      constructor(...args: ConstructorParameters<typeof sockjetRedis.RedisAdapter>) {
        super(...args);
        made.adapters.push(this);
      }
    }
    class RecordedReconnecting extends sockjetReconnecting.ReconnectingWebSocket {
      constructor(...args: ConstructorParameters<typeof sockjetReconnecting.ReconnectingWebSocket>) {
        super(...args);
        made.reconnecting.push(this);
      }
    }
    class RecordedResumable extends sockjetResume.ResumableWebSocket {
      constructor(...args: ConstructorParameters<typeof sockjetResume.ResumableWebSocket>) {
        super(...args);
        made.resumable.push(this);
      }
    }
    return {
      "sockjet/resume": { ...sockjetResume, ResumableWebSocket: RecordedResumable },
      sockjet: { ...sockjet, WebSocketServer: RecordedServer, WebSocket: RecordedWebSocket },
      "sockjet/reconnecting": { ...sockjetReconnecting, ReconnectingWebSocket: RecordedReconnecting },
      "sockjet/redis": { ...sockjetRedis, RedisAdapter: RecordedAdapter },
      "sockjet/heap": {
        ...sockjetHeap,
        keepHeapHeadroom: (...args: Parameters<typeof sockjetHeap.keepHeapHeadroom>) => {
          const stop = sockjetHeap.keepHeapHeadroom(...args);
          made.headroomCalls.push({ args, stop });
          return stop;
        },
      },
    };
  }

  console = {
    log: (...args: unknown[]) => this.logs.push(args),
    error: (...args: unknown[]) => this.logs.push(["error", ...args]),
  };

  async stop(): Promise<void> {
    for (const client of this.clients) client.terminate();
    for (const client of this.reconnecting) client.close();
    for (const client of this.resumable) client.close();
    for (const server of this.servers) {
      const http = server.httpServer;
      await server.close();
      // Attached mode: the http server is the snippet's own, which server.close() leaves open.
      if (http?.listening) {
        http.closeAllConnections();
        await new Promise((resolve) => http.close(resolve));
      }
    }
    for (const adapter of this.adapters) await adapter.close().catch(() => {});
  }
}

/** The port a server of the snippet listens on (its own http server's, or the attached one's). */
async function portOf(server: Server): Promise<number> {
  const http = server.httpServer!;
  if (!http.listening) await within(once(http, "listening"), "the snippet's server to listen");
  return (http.address() as AddressInfo).port;
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A test client that records the text messages it receives. */
async function client(
  url: string,
): Promise<{ socket: Socket; received: string[]; next: () => Promise<string> }> {
  const socket = new WebSocket(url);
  const received: string[] = [];
  const waiting: ((message: string) => void)[] = [];
  socket.onmessage = (event) => {
    received.push(String(event.data));
    waiting.shift()?.(String(event.data));
  };
  await within(once(socket, "open"), `${url} to open`);
  const next = () => within(new Promise<string>((resolve) => waiting.push(resolve)), `a message on ${url}`);
  return { socket, received, next };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

type Check = (snippet: Snippet, made: Made, t: { after: (fn: () => unknown) => void }) => Promise<void>;

/** What each block promises, by heading and order under it. */
const checks: Record<string, Check[]> = {
  "Client: browser code, unchanged": [
    async (snippet, made, t) => {
      // A server like the one the snippet expects: echoes, then closes with a reason.
      const server = new WebSocketServer({ port: 0 });
      t.after(() => server.close());
      server.on("connection", (socket) => {
        socket.onmessage = (event) => {
          socket.send(event.data);
          socket.close(1000, "bye");
        };
      });
      const port = await portOf(server);
      await runSnippet(
        snippet.code.replace("localhost:8080", `localhost:${port}`),
        made.modules(),
        made.console,
      );
      await until(() => made.logs.length >= 2, "the snippet's two log lines");
      assert.deepEqual(made.logs, [
        ["Message from server ", "Hello Server!"],
        [1000, "bye", true],
      ]);
    },
    async (snippet, made) => {
      // The error event's cause: nothing listens on port 1 (connection refused).
      await runSnippet(snippet.code, made.modules(), made.console);
      await until(() => made.logs.length >= 1, "the snippet's error line");
      const [[tag, code, message]] = made.logs as [string, string, string][];
      assert.equal(tag, "error");
      assert.equal(code, "SJ_ERR_CONNECTION_REFUSED");
      assert.match(message, /^connection refused/);
      made.logs.length = 0; // the expected error line, taken
    },
  ],
  "Server: every connection is the same `WebSocket`": [
    async (snippet, made) => {
      await runSnippet(snippet.code.replace("port: 8080", "port: 0"), made.modules(), made.console);
      const echo = await client(`ws://127.0.0.1:${await portOf(made.servers[0])}/`);
      echo.socket.send("ping");
      assert.equal(await echo.next(), "ping");
      echo.socket.close();
    },
    async (snippet, made) => {
      const code = snippet.code.replace("port: 8080", "port: 0").replace("listen(8081)", "listen(0)");
      await runSnippet(code, made.modules(), made.console);
      const [standalone, attached, noServer] = made.servers;
      assert.equal(made.servers.length, 3);
      const attachedPort = await portOf(attached);
      const opened = [
        await client(`ws://127.0.0.1:${await portOf(standalone)}/`),
        await client(`ws://127.0.0.1:${attachedPort}/chat`),
        await client(`ws://127.0.0.1:${attachedPort}/raw`),
      ];
      for (const { socket } of opened) socket.close();
      assert.equal(noServer.httpServer, null);
      const response = await fetch(`http://127.0.0.1:${attachedPort}/`);
      assert.equal(await response.text(), "hello");
    },
  ],
  "Streams: `WebSocketStream`, with backpressure at both ends": [
    async (snippet, made) => {
      // The server block: binary messages are counted, a text message is answered with the count.
      await runSnippet(snippet.code.replace("port: 8080", "port: 0"), made.modules(), made.console);
      const wss = new WebSocketStream(`ws://127.0.0.1:${await portOf(made.servers[0])}/`);
      const { readable, writable } = await within(wss.opened, "the stream to open");
      const writer = writable.getWriter();
      await writer.write(new Uint8Array(10));
      await writer.write(new Uint8Array(5).buffer);
      await writer.write("total");
      const { value } = await within(readable.getReader().read(), "the count");
      assert.equal(value, "total: 15 bytes");
      wss.close();
      await within(wss.closed, "the close");
    },
    async (snippet, made, t) => {
      // The client block, against a server like the one above.
      const server = new WebSocketServer({ port: 0 });
      t.after(() => server.close());
      server.on("connection", async (socket) => {
        const { readable, writable } = await WebSocketStream.from(socket).opened;
        const writer = writable.getWriter();
        let bytes = 0;
        for await (const message of readable) {
          if (typeof message === "string") await writer.write(`${message}: ${bytes} bytes`);
          else bytes += message.byteLength;
        }
      });
      const port = await portOf(server);
      await runSnippet(
        snippet.code.replace("localhost:8080", `localhost:${port}`),
        made.modules(),
        made.console,
      );
      const size = readFileSync(README).length;
      assert.deepEqual(made.logs, [[`README.md: ${size} bytes`], [{ closeCode: 1000, reason: "done" }]]);
    },
  ],
  "Pub/sub: topics": [
    async (snippet, made) => {
      await runSnippet(snippet.code.replace("port: 8080", "port: 0"), made.modules(), made.console);
      const port = await portOf(made.servers[0]);
      const first = await client(`ws://127.0.0.1:${port}/?room=lobby`);
      const second = await client(`ws://127.0.0.1:${port}/`); // no room: the lobby
      assert.equal(await first.next(), "someone joined");
      second.socket.send("hello room");
      assert.equal(await first.next(), "hello room");
      const other = await client(`ws://127.0.0.1:${port}/?room=other`);
      other.socket.send("elsewhere");
      assert.equal(made.servers[0].publish("lobby", "done"), 2);
      await first.next();
      await until(() => second.received.length === 1, "the publish to the second lobby member");
      assert.deepEqual(
        [first.received, second.received],
        [["someone joined", "hello room", "done"], ["done"]],
      );
      for (const c of [first, second, other]) c.socket.close();
    },
  ],
  "Large binary messages on Node 20: `sockjet/heap`": [
    async (snippet, made, t) => {
      await runSnippet(snippet.code, made.modules(), made.console);
      // It was called once, as the block says, with the default headroom, and its stop function works.
      assert.equal(made.headroomCalls.length, 1);
      const [{ args, stop }] = made.headroomCalls;
      assert.deepEqual(args, []);
      t.after(stop);
      assert.equal(typeof stop, "function");
    },
  ],
  "Reconnecting client": [
    async (snippet, made, t) => {
      // A feed that answers the hook's subscription; its connections are dropped once to see a reconnect.
      const server = new WebSocketServer({ port: 0 });
      t.after(() => server.close());
      const connections: Socket[] = [];
      server.on("connection", (socket) => {
        connections.push(socket);
        socket.onmessage = (event) => socket.send(`${event.data}: ok`);
      });
      const port = await portOf(server);
      await runSnippet(
        snippet.code.replace("localhost:8080", `localhost:${port}`),
        made.modules(),
        made.console,
      );
      await until(() => made.logs.length === 1, "the first subscription's answer");
      connections[0].terminate();
      await until(() => made.logs.length === 3, "the retry and the second subscription's answer");
      assert.match(String(made.logs[1][0]), /^retry 1 in \d+ ms$/);
      assert.deepEqual([made.logs[0], made.logs[2]], [["subscribe prices: ok"], ["subscribe prices: ok"]]);
      assert.equal(connections.length, 2);
    },
  ],
  "Resumable sessions": [
    async (snippet, made) => {
      // The server and the client of the block talk to each other: one free port for both.
      const port = await freePort();
      await runSnippet(snippet.code.replaceAll("8080", String(port)), made.modules(), made.console);
      const server = made.servers[0];
      await until(() => server.subscriberCount("news") === 1, "the client's session and subscription");
      server.publish("news", "first");
      await until(() => made.logs.length === 1, "the first message");
      // The connection dies and a message is published before the client is back: it gets it on resume.
      const [old] = server.clients;
      old.terminate();
      server.publish("news", "missed");
      await until(() => made.logs.length === 2, "the missed message, replayed");
      assert.deepEqual(made.logs, [
        ["news", "first"],
        ["news", "missed"],
      ]);
      const [resumed] = server.clients;
      assert.equal(resumed.resumed, true);
      assert.deepEqual(resumed.topics, ["news"]);
    },
  ],
  "Scale-out over Redis": [
    async (snippet, made, t) => {
      const redis = await RedisServer.start();
      t.after(() => redis.kill());
      const env = { PORT: "0", REDIS_URL: redis.url };
      // Two processes' worth: the block twice, each with its own server and adapter.
      await runSnippet(snippet.code, made.modules(), made.console, env);
      await runSnippet(snippet.code, made.modules(), made.console, env);
      await within(Promise.all(made.adapters.map((adapter) => adapter.ready)), "both adapters");
      const [a, b] = await Promise.all(
        made.servers.map(async (s) => client(`ws://127.0.0.1:${await portOf(s)}/`)),
      );
      await until(() => made.servers.every((s) => s.subscriberCount("chat") === 1), "both subscriptions");
      await within(Promise.all(made.servers.map((s) => s.adapterSettled())), "the adapters' subscriptions");
      a.socket.send("across processes");
      assert.equal(await b.next(), "across processes");
      assert.deepEqual(a.received, []);
      for (const c of [a, b]) c.socket.close();
    },
    // The same chat on a Redis Cluster (sharded pub/sub): a real 3-master cluster, the block twice.
    async (snippet, made, t) => {
      const cluster = await RedisCluster.start();
      t.after(() => cluster.stop());
      const env = {
        PORT: "0",
        REDIS_CLUSTER: cluster.nodes.map((node) => `redis://127.0.0.1:${node.port}`).join(","),
      };
      await runSnippet(snippet.code, made.modules(), made.console, env);
      await runSnippet(snippet.code, made.modules(), made.console, env);
      await within(Promise.all(made.adapters.map((adapter) => adapter.ready)), "both adapters");
      const [a, b] = await Promise.all(
        made.servers.map(async (s) => client(`ws://127.0.0.1:${await portOf(s)}/`)),
      );
      await until(() => made.servers.every((s) => s.subscriberCount("chat") === 1), "both subscriptions");
      await within(Promise.all(made.servers.map((s) => s.adapterSettled())), "the adapters' subscriptions");
      a.socket.send("across the cluster");
      assert.equal(await b.next(), "across the cluster");
      assert.deepEqual(a.received, []);
      for (const c of [a, b]) c.socket.close();
    },
  ],
};

describe("README.md: every JavaScript block runs as written", () => {
  const seen = new Map<string, number>();
  for (const snippet of javascriptBlocks()) {
    const position = seen.get(snippet.heading) ?? 0;
    seen.set(snippet.heading, position + 1);
    const check = checks[snippet.heading]?.[position];
    const skip = snippet.heading === "Scale-out over Redis" ? redisSkip() : false;
    test(`README.md:${snippet.line} (${snippet.heading})`, { skip }, async (t) => {
      assert.ok(check, `no check for the README block at line ${snippet.line}: add one in this file`);
      const made = new Made();
      t.after(() => made.stop());
      await check(snippet, made, t);
      assert.deepEqual(
        made.logs.filter((line) => line[0] === "error"),
        [],
      );
    });
  }
  after(() => {
    // Every check was used: a block that disappeared from the README leaves its check behind.
    for (const [heading, list] of Object.entries(checks))
      assert.equal(seen.get(heading), list.length, heading);
  });
});
