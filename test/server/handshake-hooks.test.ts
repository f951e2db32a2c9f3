import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { describe, test } from "node:test";
import type { WebSocketServerOptions } from "../../src/server/options.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import {
  type Cleanup,
  clientFrame,
  defer,
  HOST,
  nextEmit,
  OP,
  onMessage,
  portOf,
  RawClient,
  type ResponseHead,
  RFC_ACCEPT,
  shutDown,
  sleep,
  startServer,
  upgradeRequest,
  waitFor,
  within,
} from "./helpers.js";

// The server's handshake hooks (verify, selectProtocol, headers) and what it answers when they misbehave or
// the peer leaves while they run (issue 21 items 3, 6–9; issue 22 item 6).

/** Sends `request` on a fresh connection; the response head and body, after the server's EOF. */
async function exchange(
  t: Cleanup,
  port: number,
  request: string,
): Promise<{ head: ResponseHead; body: string }> {
  const client = await RawClient.connect(t, port);
  client.write(request);
  const head = await client.readHead();
  const body = await client.readBody(head);
  await client.expectEof();
  client.destroy();
  return { head, body };
}

/** A server with NO 'error' listener (unlike startServer's): an 'error' emitted here would crash the process. */
async function startBareServer(
  t: Cleanup,
  options: Omit<WebSocketServerOptions, "port">,
): Promise<{
  server: WebSocketServer;
  port: number;
}> {
  const server = new WebSocketServer({ host: HOST, ...options, port: 0 });
  defer(t, () => shutDown(server));
  await nextEmit(server, "listening");
  return { server, port: portOf(server.address()) };
}

describe("issue 21 item 3: a peer that leaves while an async verify runs is never accepted", () => {
  for (const [how, leave] of [
    ["sends FIN", (client: RawClient) => client.socket.end()],
    ["destroys its socket", (client: RawClient) => client.destroy()],
  ] as const) {
    test(`regression: a peer that ${how} during a 300 ms verify gets no 101, no 'connection', no place in clients`, async (t) => {
      let settled = 0;
      const { server, port } = await startServer(t, {
        pingIntervalMs: 0,
        verify: async () => {
          await sleep(300);
          settled++;
          return true;
        },
      });
      let connections = 0;
      server.on("connection", () => connections++);
      const client = await RawClient.connect(t, port);
      client.write(upgradeRequest());
      await sleep(50);
      leave(client);
      await waitFor(() => settled === 1, 3000, "verify to settle");
      await sleep(200);
      assert.equal(connections, 0, "no 'connection' event");
      assert.equal(server.clients.size, 0, "not in server.clients");
      assert.equal(client.total, 0, "no 101 (nor anything else) was written");
    });
  }

  for (const size of [5, 200 * 1024]) {
    test(`a ${size}-byte message the client sends before the 101 while verify runs is delivered after the accept`, async (t) => {
      const { server, port } = await startServer(t, {
        verify: async () => {
          await sleep(100);
          return true;
        },
      });
      const received = new Promise<unknown>((resolve) =>
        server.once("connection", (socket) => onMessage(socket, resolve)),
      );
      const client = await RawClient.connect(t, port);
      const text = "e".repeat(size);
      client.write(Buffer.concat([Buffer.from(upgradeRequest(), "latin1"), clientFrame(OP.text, text)]));
      const head = await client.readHead();
      assert.equal(head.status, 101);
      assert.equal(await within(received, 3000, "the early message"), text);
    });
  }
});

describe("a peer that sent 64 KiB or more before its FIN while verify ran (the early-bytes bound)", () => {
  // Past 64 KiB of early bytes reading stops, so the FIN behind them is not seen before the verdict: the
  // peer is accepted, its message is delivered, then its FIN ends the connection (1006: no Close frame).
  // What the README promises: nothing is lost, nothing stays behind (clients, per-address count).
  test("it is accepted, its message delivered, then closed 1006, leaving no client and no per-address count", async (t) => {
    const { server, port } = await startServer(t, {
      pingIntervalMs: 0,
      maxConnectionsPerIp: 5,
      verify: async () => {
        await sleep(300);
        return true;
      },
    });
    const events: string[] = [];
    server.on("connection", (socket) => {
      events.push("connection");
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => events.push(`message ${(event.data as ArrayBuffer).byteLength}`);
      socket.onclose = (event) => events.push(`close ${event.code}`);
    });
    const client = await RawClient.connect(t, port);
    client.write(upgradeRequest());
    await sleep(20);
    client.socket.end(clientFrame(OP.binary, Buffer.alloc(200 * 1024, 0x61)));
    assert.equal((await client.readHead()).status, 101);
    await waitFor(() => events.includes("close 1006"), 3000, "the connection to end");
    assert.deepEqual(events, ["connection", `message ${200 * 1024}`, "close 1006"]);
    assert.equal(server.clients.size, 0);
    // The per-address counts live in the server's HandshakeAdmission (handshake-admission.ts).
    type Counts = { count(address: string): number };
    const { perIp } = (server as unknown as { admission: { perIp: Counts } }).admission;
    await waitFor(() => perIp.count(HOST) === 0, 3000, "the address's count to drop to 0");
  });
});

/** A thenable that is not a Promise (as some libraries return). */
function thenable(run: (resolve: (value: boolean) => void) => void): PromiseLike<boolean> {
  // biome-ignore lint/suspicious/noThenProperty: a thenable on purpose
  return { then: ((resolve: (value: boolean) => void) => run(resolve)) as PromiseLike<boolean>["then"] };
}

describe("issue 21 item 6: verify's answer — thenables are promises, a rejection's status is an error status", () => {
  test("regression: a non-native thenable resolving false → 403 Forbidden (was 'HTTP/1.1 undefined Error')", async (t) => {
    const { port } = await startServer(t, {
      verify: () => thenable((resolve) => setTimeout(() => resolve(false), 10)),
    });
    const { head } = await exchange(t, port, upgradeRequest());
    assert.equal(head.statusLine, "HTTP/1.1 403 Forbidden");
  });

  test("a non-native thenable resolving true accepts", async (t) => {
    const { port } = await startServer(t, {
      verify: () => thenable((resolve) => resolve(true)),
    });
    const client = await RawClient.connect(t, port);
    const head = await client.handshake();
    assert.equal(head.header("sec-websocket-accept"), RFC_ACCEPT);
  });

  for (const status of [101, 200, 302, 600, 404.5, "403"]) {
    test(`regression: a rejection with status ${JSON.stringify(status)} → 500 and a TypeError on 'handshakeError'`, async (t) => {
      const { server, port } = await startServer(t, {
        verify: () => ({ status }) as unknown as { status: number },
      });
      const errors: Error[] = [];
      server.on("handshakeError", (error) => errors.push(error));
      const { head } = await exchange(t, port, upgradeRequest());
      assert.equal(head.statusLine, "HTTP/1.1 500 Internal Server Error");
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof TypeError);
      assert.match(errors[0].message, /400–599/);
    });
  }

  test("anything but false or a rejection object accepts: true, undefined, null, 0, ''", async (t) => {
    const answers: unknown[] = [true, undefined, null, 0, ""];
    let call = 0;
    const { port } = await startServer(t, { verify: () => answers[call++] as boolean });
    for (const _ of answers) {
      const client = await RawClient.connect(t, port);
      assert.equal((await client.handshake()).status, 101);
      client.destroy();
    }
  });
});

describe("issue 21 item 7: a version mismatch is answered like every 426 (RFC 9110 §15.5.22, RFC 6455 §4.4)", () => {
  test("regression: Sec-WebSocket-Version: 8 → 426 with Upgrade: websocket, Connection: Upgrade and Sec-WebSocket-Version: 13", async (t) => {
    const { port } = await startServer(t);
    const { head } = await exchange(t, port, upgradeRequest({ headers: { "Sec-WebSocket-Version": "8" } }));
    assert.equal(head.statusLine, "HTTP/1.1 426 Upgrade Required");
    assert.equal(head.header("upgrade"), "websocket");
    assert.equal(head.header("connection"), "Upgrade, close");
    assert.equal(head.header("sec-websocket-version"), "13");
  });
});

describe("issue 21 item 9 / issue 22 item 6: a failing hook answers 500 and never crashes a server with no 'error' listener", () => {
  // Each hook fails on its first call only, so the next handshake shows the server still serving.
  const hookBug = () => new Error("hook bug");
  const hooks: [string, (first: () => boolean) => Omit<WebSocketServerOptions, "port">][] = [
    [
      "a verify that throws",
      (first) => ({
        verify: () => {
          if (first()) throw hookBug();
          return true;
        },
      }),
    ],
    [
      "an async verify that rejects",
      (first) => ({
        verify: async () => {
          if (first()) throw hookBug();
          return true;
        },
      }),
    ],
    [
      "a selectProtocol that throws",
      (first) => ({
        selectProtocol: (offered) => {
          if (first()) throw hookBug();
          return offered[0];
        },
      }),
    ],
    [
      "a headers function that throws",
      (first) => ({
        headers: () => {
          if (first()) throw hookBug();
          return {};
        },
      }),
    ],
  ];
  for (const [name, makeOptions] of hooks) {
    test(`regression: ${name} → 500, 'handshakeError' (error, request), and the server goes on serving`, async (t) => {
      let calls = 0;
      const { server, port } = await startBareServer(
        t,
        makeOptions(() => ++calls === 1),
      );
      const reported: [Error, IncomingMessage][] = [];
      server.on("handshakeError", (error, request) => reported.push([error, request]));
      const request = upgradeRequest({ path: "/hooked", headers: { "Sec-WebSocket-Protocol": "chat" } });
      const { head } = await exchange(t, port, request);
      assert.equal(head.statusLine, "HTTP/1.1 500 Internal Server Error");
      assert.equal(reported.length, 1);
      assert.equal(reported[0][0].message, "hook bug");
      assert.equal(reported[0][1].url, "/hooked");
      const client = await RawClient.connect(t, port);
      assert.equal((await client.handshake()).status, 101, "the next handshake is accepted");
      client.destroy();
    });
  }

  test("regression: with no listener at all, a throwing hook answers 500 and warns once (process 'warning')", async (t) => {
    const { port } = await startBareServer(t, {
      verify: () => {
        throw new Error("hook bug");
      },
    });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    t.after(() => process.off("warning", onWarning));
    for (let i = 0; i < 2; i++) {
      const { head } = await exchange(t, port, upgradeRequest());
      assert.equal(head.statusLine, "HTTP/1.1 500 Internal Server Error");
    }
    await waitFor(() => warnings.length > 0, 2000, "a process warning");
    await sleep(50);
    assert.equal(warnings.length, 1, "one warning, not one per failure");
    assert.equal((warnings[0] as Error & { code?: string }).code, "SJ_HANDSHAKE_HOOK_FAILED");
    assert.match(warnings[0].message, /hook bug/);
  });
});
