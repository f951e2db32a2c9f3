// Hostile peers, the long versions (npm run test:long): the one-byte-per-second slowloris with the
// default handshake timeout, a hundred never-finishing frames, a million pings, a million one-byte fragments
// and a million empty messages, thousands of resets, a hundred slow consumers at once, and twenty deflate
// bombs at once. Each runs while a well-behaved client keeps round-tripping through the same server, with
// memory sampled; the figures are printed as test diagnostics.

import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import {
  formatMemory,
  type MemoryFigures,
  MemorySampler,
  Prober,
  tripwire,
} from "../conformance/hostile-kit.js";
import { bomb } from "../conformance/peer-deflate.js";
import {
  echoServer,
  frame,
  Local,
  OP,
  parseHead,
  rawClient,
  sleep,
  tcpConnect,
  until,
  upgradeRequest,
  type WirePeer,
} from "../conformance/peers.js";
import { ServerProcess } from "./server-process.js";

function report(
  t: TestContext,
  what: string,
  memory: MemoryFigures & { retained?: number },
  prober?: Prober,
) {
  const rtt = prober ? `; prober ${prober.rtts.length} round trips, max ${prober.maxRtt.toFixed(1)} ms` : "";
  const retained =
    memory.retained === undefined ? "" : `; retained after GC ${memory.retained.toFixed(1)} MiB`;
  t.diagnostic(`${what}: ${formatMemory(memory)}${retained}${rtt}`);
}

const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44]);

describe("long hostile handshakes and frames", () => {
  test("server answers 408 to 100 handshakes sent one byte per second once the default handshakeTimeoutMs (10 s) passes", {
    timeout: 60_000,
  }, async (t) => {
    const wire = tripwire(t);
    const { port, url } = await echoServer(t);
    const prober = await Prober.start(t, url, 100);
    const memory = new MemorySampler(200);
    const request = Buffer.from(upgradeRequest(), "latin1");
    const peers = await Promise.all(Array.from({ length: 100 }, () => tcpConnect(t, port)));
    const started = Date.now();
    let sent = 0;
    const trickle = setInterval(() => {
      for (const peer of peers) if (!peer.ended) peer.socket.write(request.subarray(sent, sent + 1));
      sent++;
    }, 1000);
    t.after(() => clearInterval(trickle));
    const heads = await Promise.all(peers.map((peer) => peer.readHead(20_000)));
    await Promise.all(peers.map((peer) => peer.waitEnd(5000)));
    clearInterval(trickle);
    const elapsed = Date.now() - started;
    for (const head of heads) assert.equal(parseHead(head).status, 408);
    assert.ok(elapsed >= 9000 && elapsed < 15_000, `dropped after ${elapsed} ms (timeout 10 s)`);
    await prober.assertServed(50, 500);
    report(t, `slowloris ×100 at 1 byte/s, dropped after ${elapsed} ms`, memory.stop(), prober);
    wire.check();
  });

  test("server closes 100 never-finishing frames with 1001 once idleTimeoutMs (2 s) passes, then drops them", {
    timeout: 60_000,
  }, async (t) => {
    const wire = tripwire(t);
    const { port, url, connections } = await echoServer(t, { idleTimeoutMs: 2000, closeTimeoutMs: 1000 });
    const prober = await Prober.start(t, url, 50);
    const memory = new MemorySampler(100);
    const peers: WirePeer[] = [];
    for (let i = 0; i < 100; i++) peers.push((await rawClient(t, port)).peer);
    const f = frame({ opcode: OP.text, payload: "x".repeat(10_000), mask: MASK });
    for (const peer of peers) await peer.write(f.subarray(0, 100));
    let at = 100;
    const trickle = setInterval(() => {
      at++;
      for (const peer of peers) if (!peer.ended) peer.socket.write(f.subarray(at - 1, at));
    }, 200);
    t.after(() => clearInterval(trickle));
    const started = Date.now();
    for (const peer of peers) {
      const close = await peer.readFrame(10_000);
      assert.equal(close.closeCode, 1001);
    }
    await Promise.all(peers.map((peer) => peer.waitEnd(5000)));
    clearInterval(trickle);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 8000, `all dropped after ${elapsed} ms`);
    await until(
      () => connections.slice(1).every((c) => c.types().includes("close")),
      5000,
      "every close event",
    );
    await prober.roundTrip();
    await prober.assertServed(20, 500);
    report(t, "100 never-finishing frames", memory.stop(), prober);
    wire.check();
  });

  test("server answers 1,000,000 Pings with 1,000,000 Pongs while serving others", {
    timeout: 300_000,
  }, async (t) => {
    const wire = tripwire(t);
    const server = await ServerProcess.start(t);
    const prober = await Prober.start(t, server.url, 20);
    const { peer } = await rawClient(t, server.port);
    await server.resetMemory();
    const batch = Buffer.concat(
      Array.from({ length: 1000 }, () => frame({ opcode: OP.ping, payload: "p", mask: MASK })),
    );
    let pongs = 0;
    const reader = peer.skipFrames(1_000_000, (opcode, length) => {
      if (opcode !== OP.pong || length !== 1) throw new Error(`frame ${pongs} is not the Pong`);
      pongs++;
    });
    for (let i = 0; i < 1000; i++) await peer.write(batch);
    await reader;
    const m = await server.memory();
    report(t, "1,000,000 pings (server process)", m, prober);
    // Nothing of the flood is kept; what RSS shows is garbage the collector had not reclaimed yet.
    assert.ok(m.retained < 16, `server retained ${m.retained.toFixed(1)} MiB`);
    assert.ok(m.rssMax - m.rssStart < 256, `server RSS grew ${(m.rssMax - m.rssStart).toFixed(1)} MiB`);
    await prober.assertServed(3, 1000);
    wire.check();
  });

  test("server echoes a message of 1,000,000 one-byte fragments as 1 MB, and fails the next with 1009 at fragment 1,000,001", {
    timeout: 300_000,
  }, async (t) => {
    const wire = tripwire(t);
    const server = await ServerProcess.start(t, { maxFragmentsPerMessage: 1_000_000 });
    const prober = await Prober.start(t, server.url, 20);
    const { peer } = await rawClient(t, server.port);
    await server.resetMemory();
    const cont = frame({ opcode: OP.continuation, payload: "a", fin: false, mask: MASK });
    const batch = Buffer.concat(Array.from({ length: 10_000 }, () => cont));
    /** Sends `total` one-byte frames of one message; the last is final when `final`. */
    const send = async (total: number, final: boolean) => {
      await peer.write(frame({ opcode: OP.binary, payload: "a", fin: false, mask: MASK }));
      for (let sent = 1; sent < total - 1; sent += 10_000) {
        const n = Math.min(10_000, total - 1 - sent);
        await peer.write(n === 10_000 ? batch : batch.subarray(0, n * cont.length));
      }
      await peer.write(frame({ opcode: OP.continuation, payload: "a", fin: final, mask: MASK }));
    };
    await send(1_000_000, true);
    const echo = await peer.readFrame(60_000);
    assert.equal(echo.opcode, OP.binary);
    assert.ok(echo.payload.equals(Buffer.alloc(1_000_000, "a")), "1,000,000 bytes of 'a'");
    const held = await server.memory();
    report(t, "1,000,000 one-byte fragments (server process)", held, prober);
    // A fragment costs its bytes, not an object: the 1 MB message, its echo and some garbage.
    assert.ok(
      held.rssMax - held.rssStart < 64,
      `server RSS grew ${(held.rssMax - held.rssStart).toFixed(1)} MiB`,
    );
    await send(1_000_001, false);
    const close = await peer.readFrame(60_000);
    assert.equal(close.closeCode, 1009);
    await prober.assertServed(3, 1000);
    wire.check();
  });

  test("server echoes 1,000,000 empty messages in order while serving others", {
    timeout: 300_000,
  }, async (t) => {
    const wire = tripwire(t);
    const server = await ServerProcess.start(t);
    const prober = await Prober.start(t, server.url, 20);
    const { peer } = await rawClient(t, server.port);
    await server.resetMemory();
    const batch = Buffer.concat(Array.from({ length: 10_000 }, () => frame({ opcode: OP.text, mask: MASK })));
    let echoes = 0;
    const reader = peer.skipFrames(1_000_000, (opcode, length, fin) => {
      if (opcode !== OP.text || length !== 0 || !fin) throw new Error(`echo ${echoes} is not empty text`);
      echoes++;
    });
    for (let i = 0; i < 100; i++) await peer.write(batch);
    await reader;
    const m = await server.memory();
    report(t, "1,000,000 empty messages (server process)", m, prober);
    assert.ok(m.retained < 16, `server retained ${m.retained.toFixed(1)} MiB`);
    assert.ok(m.rssMax - m.rssStart < 256, `server RSS grew ${(m.rssMax - m.rssStart).toFixed(1)} MiB`);
    await prober.assertServed(3, 1000);
    wire.check();
  });
});

describe("long resets, slow consumers and bombs", () => {
  test("server survives 3,000 resets at random points of the handshake and of frames, memory flat", {
    timeout: 300_000,
  }, async (t) => {
    const wire = tripwire(t);
    const { port, url, server } = await echoServer(t);
    const prober = await Prober.start(t, url, 20);
    const memory = new MemorySampler(100);
    const request = Buffer.from(upgradeRequest(), "latin1");
    const message = frame({ opcode: OP.binary, payload: Buffer.alloc(10_000, 1), mask: MASK });
    let rssAfterFirstThousand = 0;
    for (let round = 0; round < 30; round++) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const peer = await tcpConnect(t, port);
          const kind = (round * 100 + i) % 3;
          if (kind === 0) {
            await peer.write(request.subarray(0, 1 + ((i * 7) % (request.length - 1))));
          } else {
            await peer.write(request);
            await peer.readHead();
            if (kind === 2) await peer.write(message.subarray(0, 1 + ((i * 131) % (message.length - 1))));
          }
          peer.reset();
        }),
      );
      if (round === 9) rssAfterFirstThousand = process.memoryUsage().rss;
    }
    await until(() => server.clients.size === 1, 10_000, "every reset connection to be gone");
    await prober.roundTrip();
    await prober.assertServed(20, 1000);
    const m = memory.stop();
    const growth = (process.memoryUsage().rss - rssAfterFirstThousand) / 1048576;
    assert.ok(growth < 48, `RSS grew ${growth.toFixed(1)} MiB over the last 2,000 resets`);
    report(t, "3,000 resets", m, prober);
    wire.check();
  });

  test("server drops 100 slow consumers at once, each under maxBufferedBytes (1 MiB)", {
    timeout: 120_000,
  }, async (t) => {
    const wire = tripwire(t);
    const cap = 1 << 20;
    const message = Buffer.alloc(64 * 1024, 0x42);
    const { port, url, server } = await echoServer(t, { maxBufferedBytes: cap });
    const prober = await Prober.start(t, url, 20);
    const memory = new MemorySampler(50);
    let maxBuffered = 0;
    const locals: Local[] = [];
    server.on("connection", (ws) => {
      if (locals.length >= 100) return;
      locals.push(new Local(ws, false));
      const pump = () => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(message);
        maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
        setImmediate(pump);
      };
      setImmediate(pump);
    });
    const peers: WirePeer[] = [];
    for (let i = 0; i < 100; i++) {
      const { peer } = await rawClient(t, port);
      peer.socket.pause();
      peers.push(peer);
    }
    await until(() => locals.length === 100, 5000, "100 slow consumers");
    const events = await Promise.all(locals.map((l) => l.close(30_000)));
    for (const e of events) assert.equal(e.code, 1006);
    assert.ok(maxBuffered <= cap + 2 * message.length + 64, `bufferedAmount reached ${maxBuffered}`);
    await prober.roundTrip();
    await prober.assertServed(5, 2000);
    const m = memory.stop();
    // Each consumer may hold up to its cap plus a message or two; 100 × ~1.2 MiB bounds the total.
    assert.ok(m.heldMax < 160, `held ${m.heldMax.toFixed(1)} MiB for 100 consumers capped at 1 MiB`);
    report(t, "100 slow consumers", m, prober);
    wire.check();
  });

  test("server fails 20 concurrent deflate bombs (64 KiB → 64 MiB each, limit 1 MiB) with 1009, memory bounded", {
    timeout: 120_000,
  }, async (t) => {
    const wire = tripwire(t);
    const server = await ServerProcess.start(t, { perMessageDeflate: true, maxPayloadBytes: 1 << 20 });
    const prober = await Prober.start(t, server.url, 20);
    const port = server.port;
    const payload = bomb(64 << 20);
    const peers: WirePeer[] = [];
    for (let i = 0; i < 20; i++) {
      const { peer, head } = await rawClient(t, port, {
        headers: { "Sec-WebSocket-Extensions": "permessage-deflate" },
      });
      assert.match(head.headers["sec-websocket-extensions"] ?? "", /^permessage-deflate/);
      peers.push(peer);
    }
    await server.resetMemory();
    await Promise.all(
      peers.map((peer) => peer.write(frame({ opcode: OP.binary, rsv1: true, payload, mask: MASK }))),
    );
    for (const peer of peers) {
      const close = await peer.readFrame(30_000);
      assert.equal(close.closeCode, 1009);
    }
    const m = await server.memory();
    assert.ok(
      m.rssMax - m.rssStart < 96,
      `server RSS grew ${(m.rssMax - m.rssStart).toFixed(1)} MiB for 20 bombs`,
    );
    await sleep(10);
    await prober.roundTrip();
    await prober.assertServed(1, 2000);
    report(t, "20 deflate bombs (server process)", m, prober);
    wire.check();
  });
});
