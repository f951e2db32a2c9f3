// A resumed session's record is in a distributing store (Redis) while its replay is paced by the client's
// reading, not only once the replay is out: a client cut mid-replay, whose first server does not notice (a
// half-open connection) or has died, resumes on another process with its new token (docs/resume.md).
// Outside review of 0e7888b.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, test } from "node:test";
import { RedisStreamStore } from "../../src/redis/index.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { HOST, until } from "../pubsub/helpers.js";
import { RedisServer, redisSkipReason } from "../pubsub/redis-helpers.js";
import { RawResumeClient } from "./redis-resume-helpers.js";

const skip = redisSkipReason() ?? false;
let redis: RedisServer | undefined;
after(async () => {
  await redis?.kill();
});

/**
 * A relay passing about `bytesPer10ms` of the server's bytes every 10 ms. cutClientSide() destroys the
 * client's sockets and leaves the server's open and unread (half-open); retarget() moves new connections.
 */
async function slowRelay(port: number, bytesPer10ms: number) {
  let target = port;
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket; cut(): void }>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, HOST);
    let budget = bytesPer10ms;
    let cut = false;
    const timer = setInterval(() => {
      budget = bytesPer10ms;
      if (!cut) upstream.resume();
    }, 10);
    const pair = {
      client,
      upstream,
      cut() {
        cut = true;
        clearInterval(timer);
        upstream.pause();
        client.destroy();
      },
    };
    pairs.add(pair);
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk: Buffer) => {
      client.write(chunk);
      budget -= chunk.length;
      if (budget <= 0) upstream.pause();
    });
    client.on("close", () => {
      if (cut) return;
      clearInterval(timer);
      upstream.destroy();
    });
    upstream.on("close", () => {
      clearInterval(timer);
      client.destroy();
    });
  });
  server.listen(0, HOST);
  await once(server, "listening");
  return {
    url: `ws://${HOST}:${(server.address() as net.AddressInfo).port}/`,
    cutClientSide() {
      for (const pair of pairs) pair.cut();
    },
    cutBoth() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    retarget(port: number) {
      target = port;
    },
    close() {
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      server.close();
    },
  };
}

async function resumeServer(url: string) {
  const server = new WebSocketServer({
    port: 0,
    host: HOST,
    pingIntervalMs: 0,
    maxBufferedBytes: 64 * 1024,
    resume: { store: new RedisStreamStore({ url, maxMessagesPerTopic: 1000 }) },
  });
  await once(server, "listening");
  server.on("connection", (socket) => {
    if (!socket.resumed) socket.subscribe("t");
  });
  return { server, port: (server.address() as net.AddressInfo).port };
}

describe("a client cut during its paced replay (Redis store)", { skip }, () => {
  test("resumes on another process, its session intact: the rest of the replay, in order, once", async (t) => {
    redis ??= await RedisServer.start();
    const a = await resumeServer(redis.url);
    const b = await resumeServer(redis.url);
    t.after(() => a.server.close());
    t.after(() => b.server.close());
    const relay = await slowRelay(a.port, 20 * 1024);
    t.after(() => relay.close());
    const client = new RawResumeClient();
    await client.connect(relay.url);
    await until(() => a.server.subscriberCount("t") === 1, 5000, "the subscription");
    await a.server.adapterSettled();
    relay.cutBoth();
    await until(() => a.server.clients.size === 0, 5000, "a noticed the cut");
    await new Promise((resolve) => setTimeout(resolve, 200));
    const big = "x".repeat(60 * 1024);
    const count = 300;
    for (let i = 0; i < count; i++) a.server.publish("t", `${i} ${big}`);
    await a.server.adapterSettled();
    // ~18 MB of replay through the relay's ~2 MB/s.
    const onA = await client.connect(relay.url);
    assert.equal(onA.resumed, true, "resumed on a");
    await until(() => client.received.length >= 20, 20_000, "some of the replay");
    relay.cutClientSide();
    relay.retarget(b.port);
    const onB = await client.connect(relay.url);
    assert.equal(
      onB.resumed,
      true,
      `resumed on b: ${JSON.stringify(client.events.filter((e) => e.type === "reset"))}`,
    );
    await until(() => client.received.length >= count, 30_000, "the whole replay");
    assert.deepEqual(
      client.received.map((message) => Number(message.data.split(" ")[0])),
      Array.from({ length: count }, (_, i) => i),
    );
  });
});
