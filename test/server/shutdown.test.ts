import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";
import { WebSocketServer } from "../../src/index.js";
import type { CloseEvent } from "../../src/web/events.js";
import type { WebSocket } from "../../src/web/websocket.js";
import {
  clientClose,
  clientFrame,
  HOST,
  nextEmit,
  nextEvent,
  OP,
  onMessage,
  openClient,
  RawClient,
  sleep,
  startServer,
  upgradeRequest,
  waitFor,
  within,
} from "./helpers.js";

// Graceful shutdown (RFC 6455 §7.1.2, §7.4.1 1001 "going away"): close() stops accepting, sends every
// connection a Close 1001, waits for the closing handshakes up to shutdownTimeoutMs, terminates the rest, and
// releases the port.

/** The port can be bound again: nothing holds it. */
async function assertPortReleased(port: number): Promise<void> {
  const probe = net.createServer();
  await within(
    new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(port, HOST, () => resolve());
    }),
    2000,
    `binding port ${port} again`,
  );
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}

describe("server.close(): graceful shutdown", () => {
  test("close() settles when listening failed on a server with no 'error' listener (the error went uncaught)", async () => {
    // In a child process: the uncaught EADDRINUSE is caught by its own uncaughtException handler, as an
    // application's last-resort handler would (review 137: close() never settled).
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, HOST, resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const module = new URL("../../src/index.ts", import.meta.url).href;
    const script = `
      process.on("uncaughtException", () => {});
      const { WebSocketServer } = await import(${JSON.stringify(module)});
      const server = new WebSocketServer({ port: ${port}, host: ${JSON.stringify(HOST)} });
      const timer = setTimeout(() => { console.log("pending"); process.exit(1); }, 3000);
      await server.close();
      clearTimeout(timer);
      console.log("settled");`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    const [code] = (await within(once(child, "exit"), 20_000, "the child")) as [number];
    blocker.close();
    assert.equal(out.trim(), "settled");
    assert.equal(code, 0);
  });

  test("close() right after construction, before the server listens: it never listens, 'listening' comes before 'close'", async () => {
    for (const host of ["127.0.0.1", "localhost"]) {
      const server = new WebSocketServer({ port: 0, host });
      const events: string[] = [];
      server.on("listening", () => events.push("listening"));
      server.on("close", () => events.push("close"));
      await within(server.close(), 5000, "close()");
      // Node's listen() goes on once it has resolved the host: give it the time to.
      await sleep(200);
      assert.equal(
        server.httpServer?.listening,
        false,
        `${host}: still listening on ${JSON.stringify(server.address())}`,
      );
      assert.equal(server.address(), null);
      assert.equal(events.at(-1), "close", `${host}: ${events.join(", ")}`);
    }
  });

  test("connections mid-message each get Close 1001, close() resolves, 'close' is emitted, the port is released", async (t) => {
    const { server, url, port } = await startServer(t, { shutdownTimeoutMs: 3000 });
    // Our clients, with the server in the middle of sending each of them a 4 MiB message.
    const big = Buffer.alloc(4 * 1024 * 1024, 0x41);
    server.on("connection", (ws) => {
      onMessage(ws, () => ws.send(big));
    });
    const clients: WebSocket[] = [];
    for (let i = 0; i < 3; i++) clients.push(await openClient(t, url));
    const clientCloses = clients.map((c) => nextEvent<CloseEvent>(c, "close", 5000));
    for (const c of clients) c.send("go");
    // A raw client in the middle of a fragmented message.
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    raw.write(clientFrame(OP.text, "first half, ", { fin: false }));
    await waitFor(() => server.clients.size === 4, 2000, "four connections");

    const closeEmitted = nextEmit(server, "close", 5000);
    const started = Date.now();
    const closing = server.close();

    // The raw peer sees exactly Close 1001 "Server shutting down", answers it, and sees EOF.
    const frame = await raw.readFrame();
    assert.equal(frame.opcode, OP.close);
    assert.equal(frame.closeCode, 1001);
    assert.equal(frame.payload.subarray(2).toString(), "Server shutting down");
    raw.write(clientClose(1001));
    await raw.finish();

    for (const event of await Promise.all(clientCloses)) {
      assert.equal(event.code, 1001);
      assert.equal(event.wasClean, true);
    }
    await within(closing, 5000, "server.close()");
    await closeEmitted;
    assert.ok(Date.now() - started < 2000, "cooperative peers do not wait for shutdownTimeoutMs");
    assert.equal(server.clients.size, 0);
    await assertPortReleased(port);
  });

  test("a peer that ignores the Close is terminated after shutdownTimeoutMs; close() then resolves", async (t) => {
    const { server, port } = await startServer(t, { shutdownTimeoutMs: 300 });
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    const serverSide = await new Promise<WebSocket>((resolve) => {
      const check = () =>
        server.clients.size === 1 ? resolve([...server.clients][0]) : setTimeout(check, 5);
      check();
    });
    const serverClose = nextEvent<CloseEvent>(serverSide, "close", 3000);
    let closeHandled = false;
    serverSide.addEventListener("close", () => {
      closeHandled = true;
    });
    let clientsAtCloseEvent = -1;
    server.on("close", () => {
      clientsAtCloseEvent = server.clients.size;
    });
    const started = Date.now();
    const closing = server.close();
    assert.equal((await raw.readFrame()).closeCode, 1001);
    // Never answer: the server must give up on its own.
    await within(closing, 3000, "server.close()");
    // Regression: close() resolved (and 'close' was emitted) before the terminated socket's close event, so
    // `server.close().then(() => process.exit())` skipped the application's close handlers.
    assert.equal(closeHandled, true, "the socket's close handlers ran before close() resolved");
    assert.equal(server.clients.size, 0);
    assert.equal(clientsAtCloseEvent, 0, "'close' is emitted once every socket is gone");
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 280, `close() resolved after ${elapsed} ms, before shutdownTimeoutMs`);
    assert.ok(elapsed < 1500, `close() took ${elapsed} ms with shutdownTimeoutMs 300`);
    assert.equal((await serverClose).code, 1006);
    await raw.expectEof();
    await assertPortReleased(port);
  });

  test("after close() starts, new connections are refused", async (t) => {
    const { server, url, port } = await startServer(t, { shutdownTimeoutMs: 2000 });
    const client = await openClient(t, url);
    const closing = server.close();
    const refused = await RawClient.connect(t, port).then(
      async (raw) => {
        raw.write(upgradeRequest());
        return raw.readHead().then(
          (head) => head.status,
          () => "no answer",
        );
      },
      (error: NodeJS.ErrnoException) => error.code,
    );
    assert.ok(
      refused === "ECONNREFUSED" || refused === 503 || refused === "no answer",
      `a handshake after close() got ${refused}`,
    );
    await nextEvent(client, "close");
    await within(closing, 3000, "server.close()");
  });

  test("regression: a handshake whose verify settles after close() started is refused with 503, and close() still resolves", async (t) => {
    let release: () => void = () => {};
    const gate = new Promise<boolean>((resolve) => (release = () => resolve(true)));
    const { server, port } = await startServer(t, { verify: () => gate, shutdownTimeoutMs: 500 });
    const raw = await RawClient.connect(t, port);
    raw.write(upgradeRequest());
    await sleep(30);
    const closing = server.close();
    await sleep(10);
    release();
    const head = await raw.readHead();
    assert.equal(head.statusLine, "HTTP/1.1 503 Service Unavailable");
    await raw.expectEof();
    await within(closing, 3000, "server.close()");
    assert.equal(server.clients.size, 0);
    await assertPortReleased(port);
  });

  test("regression: a second close() resolved at once, before the shutdown was over; now both settle after it", async (t) => {
    const { server, url, port } = await startServer(t, { shutdownTimeoutMs: 2000 });
    const client = await openClient(t, url);
    let firstDone = false;
    const first = server.close().then(() => {
      firstDone = true;
    });
    const second = new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
    await within(second, 3000, "the second close()");
    assert.equal(firstDone, true, "the second close() resolved before the shutdown finished");
    await first;
    assert.equal(client.readyState, client.CLOSED);
    await assertPortReleased(port);
  });

  test("terminate() on a client drops it at once: the peer sees EOF, the server side closes with 1006", async (t) => {
    const { server, port } = await startServer(t);
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    await waitFor(() => server.clients.size === 1, 1000, "the connection");
    const [ws] = server.clients;
    const closed = nextEvent<CloseEvent>(ws, "close");
    ws.terminate();
    assert.equal((await closed).code, 1006);
    await raw.expectEof();
    assert.equal(raw.buffer.length, 0, "no Close frame: terminate skips the closing handshake");
  });
});
