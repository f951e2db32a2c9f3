// Hostile peers, the short versions (the long ones are in test/long/hostile.test.ts). Each attack states the
// close or rejection it must get, runs while a well-behaved client keeps round-tripping messages through the
// same server (its round-trip time is bounded), samples memory, and trips on any unhandled rejection or
// uncaught exception. Memory figures are printed as test diagnostics.

import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { formatMemory, MemorySampler, Prober, tripwire } from "./hostile-kit.js";
import {
  closePayload,
  echoServer,
  frame,
  Local,
  OP,
  ourClient,
  parseHead,
  RawServer,
  rawClient,
  sleep,
  tcpConnect,
  until,
  upgradeRequest,
  type WirePeer,
} from "./peers.js";

/** Reads a whole HTTP response head from a raw handshake and times it. */
async function handshakeAnswer(peer: WirePeer, request: string | Buffer, ms = 5000) {
  const started = performance.now();
  await peer.write(request);
  const head = parseHead(await peer.readHead(ms));
  const elapsed = performance.now() - started;
  return { head, elapsed };
}

function report(t: TestContext, what: string, memory: ReturnType<MemorySampler["stop"]>, prober?: Prober) {
  const rtt = prober ? `; prober ${prober.rtts.length} round trips, max ${prober.maxRtt.toFixed(1)} ms` : "";
  t.diagnostic(`${what}: ${formatMemory(memory)}${rtt}`);
}

describe("hostile handshakes (slowloris, header floods, CR/LF, pathological lists)", () => {
  test("server answers 408 and drops 20 handshakes sent one byte per 100 ms once handshakeTimeoutMs (600 ms) passes", async (t) => {
    const wire = tripwire(t);
    const { port, url } = await echoServer(t, { handshakeTimeoutMs: 600 });
    const prober = await Prober.start(t, url);
    const memory = new MemorySampler();
    const request = Buffer.from(upgradeRequest(), "latin1");
    const peers = await Promise.all(Array.from({ length: 20 }, () => tcpConnect(t, port)));
    const started = Date.now();
    let sent = 0;
    const trickle = setInterval(() => {
      for (const peer of peers) if (!peer.ended) peer.socket.write(request.subarray(sent, sent + 1));
      sent++;
    }, 100);
    t.after(() => clearInterval(trickle));
    const heads = await Promise.all(peers.map((peer) => peer.readHead(3000)));
    await Promise.all(peers.map((peer) => peer.waitEnd(3000)));
    const elapsed = Date.now() - started;
    clearInterval(trickle);
    for (const head of heads) assert.equal(parseHead(head).status, 408);
    assert.ok(elapsed >= 500 && elapsed < 2500, `dropped after ${elapsed} ms (timeout 600 ms)`);
    assert.ok(sent < request.length, `dropped after ${sent} of ${request.length} bytes`);
    await prober.roundTrip();
    await prober.assertServed(10, 500);
    report(t, "slowloris ×20", memory.stop(), prober);
    wire.check();
  });

  test("server answers 503 (its own delay, not the client's 408) when a complete handshake waits on a verify hook past handshakeTimeoutMs", async (t) => {
    const wire = tripwire(t);
    const { port } = await echoServer(t, { handshakeTimeoutMs: 300, verify: () => new Promise(() => {}) });
    const peer = await tcpConnect(t, port);
    const { head, elapsed } = await handshakeAnswer(peer, upgradeRequest(), 3000);
    assert.equal(head.status, 503);
    assert.ok(elapsed >= 250 && elapsed < 2000, `answered after ${elapsed.toFixed(0)} ms`);
    await peer.waitEnd();
    wire.check();
  });

  const headerCases: [string, () => string, Record<string, number>, number][] = [
    [
      "10,000 header fields (Node's 16 KiB head limit)",
      () => upgradeRequest({ extra: Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join("") }),
      {},
      431,
    ],
    [
      "10,000 header fields within a 1 MiB head limit (maxHeaderCount 100)",
      () => upgradeRequest({ extra: Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join("") }),
      { maxHeaderBytes: 1 << 20 },
      431,
    ],
    ["one 1 MB header value", () => upgradeRequest({ headers: { "X-Big": "a".repeat(1_000_000) } }), {}, 431],
    [
      "a 1 MB header over a 512 KiB maxHeaderBytes",
      () => upgradeRequest({ headers: { "X-Big": "a".repeat(1_000_000) } }),
      { maxHeaderBytes: 512 * 1024 },
      431,
    ],
    ["a bare CR inside a header value", () => upgradeRequest({ extra: "X-A: a\rb\r\n" }), {}, 400],
    [
      "a bare LF inside a header value (header injection)",
      () => upgradeRequest({ extra: "X-A: a\nInjected: 1\r\n" }),
      {},
      400,
    ],
    ["an obs-fold continuation line", () => upgradeRequest({ extra: "X-A: a\r\n folded\r\n" }), {}, 400],
    ["a NUL inside a header value", () => upgradeRequest({ extra: "X-A: a\0b\r\n" }), {}, 400],
    [
      "a CR inside Sec-WebSocket-Protocol",
      () => upgradeRequest({ extra: "Sec-WebSocket-Protocol: a\rb\r\n" }),
      {},
      400,
    ],
  ];
  for (const [name, build, options, status] of headerCases) {
    test(`server rejects a handshake with ${name} with ${status}, quickly, and keeps serving`, async (t) => {
      const wire = tripwire(t);
      const { port, url } = await echoServer(t, options);
      const prober = await Prober.start(t, url);
      const memory = new MemorySampler();
      const peer = await tcpConnect(t, port);
      const { head, elapsed } = await handshakeAnswer(peer, build());
      assert.equal(head.status, status, head.statusLine);
      assert.ok(elapsed < 1000, `answered after ${elapsed.toFixed(0)} ms`);
      await peer.waitEnd();
      await prober.roundTrip();
      await prober.assertServed(1, 500);
      report(t, name, memory.stop(), prober);
      wire.check();
    });
  }

  // ReDoS-style values for the list grammars (RFC 9110 §5.6.1, RFC 6455 §9.1 / §11.3.4). The head limit is
  // raised to 4 MiB so they reach our parsers. Each size is timed, end to end: 1 MB well under a second.
  const MB = 1_000_000;
  const pathological: [string, string, (n: number) => string, number][] = [
    ["Sec-WebSocket-Extensions", "'a;' repeated", (n) => "a;".repeat(n / 2), 400],
    ["Sec-WebSocket-Extensions", "commas only", (n) => ",".repeat(n), 400],
    [
      "Sec-WebSocket-Extensions",
      "'a; b=' and an unterminated quoted string",
      (n) => `a; b="${"x".repeat(n)}`,
      400,
    ],
    [
      "Sec-WebSocket-Extensions",
      "an unterminated quoted string of escapes",
      (n) => `a; b="${"\\x".repeat(n / 2)}`,
      400,
    ],
    ["Sec-WebSocket-Extensions", "double quotes only", (n) => '"'.repeat(n), 400],
    ["Sec-WebSocket-Extensions", "'a; ' OWS runs", (n) => `a;${" ".repeat(n)}`, 400],
    ["Sec-WebSocket-Extensions", "125,000 valid offers", (n) => "x; p=1, ".repeat(n / 8), 101],
    ["Sec-WebSocket-Protocol", "commas only", (n) => ",".repeat(n), 400],
    ["Sec-WebSocket-Protocol", "'a,' repeated (duplicates)", (n) => "a,".repeat(n / 2), 400],
    ["Sec-WebSocket-Protocol", "', ' with OWS runs", (n) => `a,${" ".repeat(n)}`, 101],
    ["Sec-WebSocket-Protocol", "double quotes only", (n) => '"'.repeat(n), 400],
    [
      "Sec-WebSocket-Protocol",
      "~100,000 distinct tokens",
      (n) => {
        let s = "";
        for (let i = 0; s.length < n; i++) s += `p${i}, `;
        return s.slice(0, -2);
      },
      101,
    ],
  ];
  for (const [header, name, value, status] of pathological) {
    test(`server answers a 1 MB ${header} of ${name} with ${status} in linear time`, async (t) => {
      const wire = tripwire(t);
      const { port, url } = await echoServer(t, { maxHeaderBytes: 4 << 20 });
      const prober = await Prober.start(t, url);
      const memory = new MemorySampler();
      const times: number[] = [];
      for (const size of [MB / 10, MB]) {
        const peer = await tcpConnect(t, port);
        const { head, elapsed } = await handshakeAnswer(
          peer,
          upgradeRequest({ headers: { [header]: value(size) } }),
        );
        assert.equal(head.status, status, `${size} bytes: ${head.statusLine}`);
        times.push(elapsed);
        peer.destroy();
      }
      const [small, large] = times;
      // A quadratic scan of 1 MB would take minutes; linear ones take milliseconds (plus GC).
      assert.ok(small < 300, `100 kB took ${small.toFixed(0)} ms`);
      assert.ok(large < 1000, `1 MB took ${large.toFixed(0)} ms`);
      await prober.roundTrip();
      await prober.assertServed(1, 1500);
      t.diagnostic(`${header} ${name}: 100 kB ${small.toFixed(1)} ms, 1 MB ${large.toFixed(1)} ms`);
      report(t, `${header} ${name}`, memory.stop(), prober);
      wire.check();
    });
  }
});

describe("hostile frames (never-finishing frames, floods, impossible lengths)", () => {
  test("server closes with 1001 a connection whose frame never finishes once idleTimeoutMs passes, then drops it", async (t) => {
    const wire = tripwire(t);
    const { port, url, connections } = await echoServer(t, { idleTimeoutMs: 300, closeTimeoutMs: 300 });
    const prober = await Prober.start(t, url);
    const { peer } = await rawClient(t, port);
    const f = frame({ opcode: OP.binary, payload: Buffer.alloc(100, 7), mask: true });
    await peer.write(f.subarray(0, 20));
    // Trickle one more byte every 50 ms: input keeps coming, but no message ever completes.
    let at = 20;
    const trickle = setInterval(() => {
      if (at < f.length - 1 && !peer.ended) peer.socket.write(f.subarray(at, ++at));
    }, 50);
    t.after(() => clearInterval(trickle));
    const started = Date.now();
    const close = await peer.readFrame(3000);
    const closedAt = Date.now() - started;
    assert.equal(close.opcode, OP.close);
    assert.equal(close.closeCode, 1001);
    assert.ok(closedAt >= 250 && closedAt < 1500, `Close after ${closedAt} ms (idle timeout 300 ms)`);
    await peer.waitEnd(3000);
    clearInterval(trickle);
    // The peer never answered the Close: the server dropped it after closeTimeoutMs (1006, not clean).
    const event = await connections[1].close();
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    assert.ok(at < f.length - 1, "dropped before the frame could finish");
    await prober.assertServed(5, 500);
    wire.check();
  });

  test("server fails with 1009 a flood of 5,000 empty fragments at fragment 1,025 (default limit)", async (t) => {
    const wire = tripwire(t);
    const { port, url } = await echoServer(t);
    const prober = await Prober.start(t, url);
    const memory = new MemorySampler();
    const { peer } = await rawClient(t, port);
    const frames = [frame({ opcode: OP.text, payload: "", fin: false, mask: true })];
    for (let i = 0; i < 5000; i++)
      frames.push(frame({ opcode: OP.continuation, payload: "", fin: false, mask: true }));
    await peer.write(Buffer.concat(frames));
    const close = await peer.readFrame();
    assert.equal(close.closeCode, 1009);
    await peer.waitEnd();
    assert.equal(peer.pending, 0);
    await prober.roundTrip();
    await prober.assertServed(1, 500);
    report(t, "empty fragment flood", memory.stop(), prober);
    wire.check();
  });

  test("server answers a flood of 100,000 Pings (125 bytes) with 100,000 Pongs while serving others", async (t) => {
    const wire = tripwire(t);
    const { port, url } = await echoServer(t);
    const prober = await Prober.start(t, url, 10);
    const memory = new MemorySampler();
    const { peer } = await rawClient(t, port);
    const ping = frame({
      opcode: OP.ping,
      payload: Buffer.alloc(125, 0x70),
      mask: Buffer.from([1, 2, 3, 4]),
    });
    const batch = Buffer.concat(Array.from({ length: 1000 }, () => ping));
    let pongs = 0;
    const reader = peer.skipFrames(100_000, (opcode, length) => {
      assert.deepEqual([opcode, length], [OP.pong, 125], `frame ${pongs}`);
      pongs++;
    });
    for (let i = 0; i < 100; i++) await peer.write(batch);
    await reader;
    assert.equal(pongs, 100_000);
    // The flood may be over in a few hundred ms: what counts is that no round trip during it took long.
    await prober.roundTrip();
    await prober.assertServed(2, 1000);
    const m = memory.stop();
    assert.ok(m.heldMax < 64, `held ${m.heldMax.toFixed(1)} MiB`);
    report(t, "ping flood (reading)", m, prober);
    wire.check();
  });

  test("server stops reading from a peer that floods Pings and never reads the Pongs; drops it when it leaves", async (t) => {
    const wire = tripwire(t);
    const { port, url, connections } = await echoServer(t, { maxBufferedBytes: 256 * 1024 });
    const prober = await Prober.start(t, url, 10);
    const memory = new MemorySampler();
    const { peer } = await rawClient(t, port);
    peer.socket.pause();
    const ping = frame({
      opcode: OP.ping,
      payload: Buffer.alloc(125, 0x70),
      mask: Buffer.from([1, 2, 3, 4]),
    });
    const batch = Buffer.concat(Array.from({ length: 500 }, () => ping));
    await until(() => connections.length === 2, 2000, "the connection");
    const local = connections[1];
    const deadline = Date.now() + 15_000;
    let sent = 0;
    let stalled = 0;
    // Write until the server stops reading (the pongs it owes us are over its bound): five writes in a row
    // that the kernel cannot take. Each write waits for the kernel, so the attacker holds one batch.
    while (stalled < 5 && Date.now() < deadline && !peer.socket.destroyed) {
      const took = await Promise.race([peer.write(batch).then(() => true), sleep(200).then(() => false)]);
      stalled = took ? 0 : stalled + 1;
      sent += 500;
    }
    assert.equal(stalled, 5, "the server stopped reading");
    assert.ok(!local.events.some((e) => e.type === "close"), "paused, not dropped");
    await prober.roundTrip();
    await prober.assertServed(2, 1000);
    const m = memory.stop();
    assert.ok(m.heldMax < 64, `held ${m.heldMax.toFixed(1)} MiB`);
    t.diagnostic(
      `reading stopped after ~${sent} pings (${((sent * ping.length) / 1048576).toFixed(1)} MiB sent)`,
    );
    // The attacker leaves with our pongs unread (a reset): the paused connection notices and closes.
    peer.socket.destroy();
    const event = await local.close(5000);
    assert.equal(event.code, 1006);
    report(t, "ping flood (not reading)", m, prober);
    wire.check();
  });

  test("server echoes a flood of 50,000 empty messages in order and keeps serving", async (t) => {
    const wire = tripwire(t);
    const { port, url } = await echoServer(t);
    const prober = await Prober.start(t, url, 10);
    const memory = new MemorySampler();
    const { peer } = await rawClient(t, port);
    const empty = frame({ opcode: OP.binary, mask: Buffer.from([9, 9, 9, 9]) });
    for (let i = 0; i < 5; i++) await peer.write(Buffer.concat(Array.from({ length: 10_000 }, () => empty)));
    let echoes = 0;
    await peer.skipFrames(50_000, (opcode, length, fin) => {
      assert.ok(opcode === OP.binary && length === 0 && fin, `echo ${echoes}`);
      echoes++;
    });
    await prober.roundTrip();
    await prober.assertServed(2, 1000);
    const m = memory.stop();
    assert.ok(m.heldMax < 64, `held ${m.heldMax.toFixed(1)} MiB`);
    report(t, "empty-frame flood", m, prober);
    wire.check();
  });

  for (const [name, length, code] of [
    ["2^63 (most significant bit set)", 2n ** 63n, 1002],
    ["2^64 - 1", 2n ** 64n - 1n, 1002],
    ["2^53 - 1", 2n ** 53n - 1n, 1009],
    ["maxPayloadBytes + 1 (1 MiB + 1)", BigInt((1 << 20) + 1), 1009],
  ] as const) {
    test(`server closes with ${code} on a header declaring ${name} bytes, before any payload`, async (t) => {
      const wire = tripwire(t);
      const { port, url } = await echoServer(t);
      const prober = await Prober.start(t, url);
      const memory = new MemorySampler();
      const { peer } = await rawClient(t, port);
      await peer.write(frame({ opcode: OP.binary, length, mask: true }));
      const close = await peer.readFrame();
      assert.equal(close.closeCode, code);
      await peer.waitEnd();
      // Whatever we would have sent next is not read: the socket is already closed.
      assert.equal(peer.pending, 0);
      await prober.roundTrip();
      const m = memory.stop();
      assert.ok(m.heldMax < 16, `held ${m.heldMax.toFixed(1)} MiB`);
      wire.check();
    });
  }
});

describe("slow consumers", () => {
  test("server drops a peer that reads nothing while it sends, keeping bufferedAmount under maxBufferedBytes", async (t) => {
    const wire = tripwire(t);
    const cap = 1 << 20;
    const message = Buffer.alloc(64 * 1024, 0x42);
    const { port, url, server } = await echoServer(t, { maxBufferedBytes: cap });
    const prober = await Prober.start(t, url, 10);
    const memory = new MemorySampler();
    let maxBuffered = 0;
    let sends = 0;
    let local: Local | null = null;
    server.once("connection", (ws) => {
      local = new Local(ws, false);
      const pump = () => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(message);
        sends++;
        maxBuffered = Math.max(maxBuffered, ws.bufferedAmount);
        setImmediate(pump);
      };
      pump();
    });
    const { peer } = await rawClient(t, port);
    peer.socket.pause();
    await until(() => local !== null, 2000, "the slow consumer's connection");
    const event = await (local as unknown as Local).close(10_000);
    assert.equal(event.code, 1006);
    // One message may be framed and queued after the check that passed, one more before the next check.
    assert.ok(maxBuffered <= cap + 2 * message.length + 64, `bufferedAmount reached ${maxBuffered}`);
    await prober.roundTrip();
    await prober.assertServed(2, 1000);
    const m = memory.stop();
    assert.ok(m.heldMax < 64, `held ${m.heldMax.toFixed(1)} MiB`);
    t.diagnostic(
      `dropped after ${sends} sends of 64 KiB; max bufferedAmount ${(maxBuffered / 1024).toFixed(0)} KiB`,
    );
    report(t, "slow consumer (close)", m, prober);
    wire.check();
  });

  test("server with slowConsumer 'pause' stops reading a Ping flood from a peer that reads nothing, then catches up", async (t) => {
    const wire = tripwire(t);
    const cap = 256 * 1024;
    const { port, url, connections } = await echoServer(t, { maxBufferedBytes: cap, slowConsumer: "pause" });
    const prober = await Prober.start(t, url, 10);
    const memory = new MemorySampler();
    const { peer } = await rawClient(t, port);
    peer.socket.pause();
    await until(() => connections.length === 2, 2000, "the connection");
    const ping = frame({
      opcode: OP.ping,
      payload: Buffer.alloc(125, 0x70),
      mask: Buffer.from([1, 2, 3, 4]),
    });
    const batch = Buffer.concat(Array.from({ length: 500 }, () => ping));
    // Write until our writes stop completing (the server stopped reading and every buffer is full).
    let sent = 0;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const done = await Promise.race([peer.write(batch).then(() => true), sleep(300).then(() => false)]);
      if (!done) break;
      sent += 500;
    }
    assert.ok(Date.now() < deadline, "the server never pushed back");
    assert.deepEqual(
      connections[1].types().filter((x) => x !== "message"),
      [],
      "still open: paused, not dropped",
    );
    const held = memory.stop();
    assert.ok(held.heldMax < 64, `held ${held.heldMax.toFixed(1)} MiB`);
    // Now read: every Ping gets its Pong, in order, and the connection is healthy.
    peer.socket.resume();
    const total = sent + 500; // the batch whose write was pending
    await peer.skipFrames(total, (opcode) => assert.equal(opcode, OP.pong));
    await peer.send({ opcode: OP.close, payload: closePayload(1000) });
    const close = await peer.readFrame();
    assert.equal(close.closeCode, 1000);
    await prober.roundTrip();
    await prober.assertServed(2, 1000);
    t.diagnostic(`paused after ~${sent} pings; ${total} pongs read afterwards`);
    report(t, "slow consumer (pause)", held, prober);
    wire.check();
  });
});

describe("hostile servers against our client", () => {
  test("client: a server that never answers the upgrade fails the handshake at handshakeTimeoutMs (300 ms)", async (t) => {
    const wire = tripwire(t);
    const raw = await RawServer.start(t, { raw: true });
    const started = Date.now();
    const local = ourClient(t, raw.url, { handshakeTimeoutMs: 300 });
    await raw.accept();
    const event = await local.close();
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 2000, `failed after ${elapsed} ms`);
    assert.deepEqual([event.code, local.types()], [1006, ["error", "close"]]);
    wire.check();
  });

  test("client: a server sending its 101 one byte per 100 ms fails the handshake at handshakeTimeoutMs (500 ms)", async (t) => {
    const wire = tripwire(t);
    const raw = await RawServer.start(t, { raw: true });
    const started = Date.now();
    const local = ourClient(t, raw.url, { handshakeTimeoutMs: 500 });
    const { peer } = await raw.accept();
    const head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
    let sent = 0;
    const trickle = setInterval(() => {
      if (!peer.ended) peer.socket.write(head.slice(sent, ++sent));
    }, 100);
    t.after(() => clearInterval(trickle));
    const event = await local.close(3000);
    clearInterval(trickle);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 450 && elapsed < 2000, `failed after ${elapsed} ms`);
    assert.ok(sent < head.length, "failed before the head could finish");
    assert.deepEqual([event.code, local.types()], [1006, ["error", "close"]]);
    wire.check();
  });

  test("client: a 101 with a 1 MB header fails the handshake quickly (Node's 16 KiB head limit)", async (t) => {
    const wire = tripwire(t);
    const raw = await RawServer.start(t, {
      response: () => `HTTP/1.1 101 Switching Protocols\r\nX-Big: ${"a".repeat(1_000_000)}\r\n\r\n`,
    });
    const started = Date.now();
    const local = ourClient(t, raw.url);
    await raw.accept();
    const event = await local.close();
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual([event.code, local.types()], [1006, ["error", "close"]]);
    wire.check();
  });

  test("client: a 101 with 10,000 header fields fails the handshake quickly", async (t) => {
    const wire = tripwire(t);
    const fields = Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join("");
    const raw = await RawServer.start(t, {
      response: () => `HTTP/1.1 101 Switching Protocols\r\n${fields}\r\n`,
    });
    const started = Date.now();
    const local = ourClient(t, raw.url);
    await raw.accept();
    const event = await local.close();
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual([event.code, local.types()], [1006, ["error", "close"]]);
    wire.check();
  });

  test("client: a response with CR/LF injected in a header value fails the handshake", async (t) => {
    const wire = tripwire(t);
    const raw = await RawServer.start(t, {
      response: (request) =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${request.headers["sec-websocket-key"]}\rX\r\n\r\n`,
    });
    const local = ourClient(t, raw.url);
    await raw.accept();
    const event = await local.close();
    assert.deepEqual([event.code, local.types()], [1006, ["error", "close"]]);
    wire.check();
  });
});

describe("abrupt TCP resets (RST) on both roles", () => {
  test("server: a reset mid-frame gives error then close 1006, and the server keeps serving", async (t) => {
    const wire = tripwire(t);
    const { port, url, connections } = await echoServer(t);
    const prober = await Prober.start(t, url);
    const { peer } = await rawClient(t, port);
    await until(() => connections.length === 2, 2000, "the connection");
    const f = frame({ opcode: OP.binary, payload: Buffer.alloc(1000), mask: true });
    await peer.write(f.subarray(0, 500));
    peer.reset();
    const event = await connections[1].close();
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    assert.deepEqual(connections[1].types(), ["error", "close"]);
    await prober.roundTrip();
    wire.check();
  });

  test("server: a reset in the middle of the request head leaves no trace and the server keeps serving", async (t) => {
    const wire = tripwire(t);
    const { port, url, server, connections } = await echoServer(t);
    const prober = await Prober.start(t, url);
    const errors: Error[] = [];
    server.on("error", (e) => errors.push(e));
    for (let i = 0; i < 10; i++) {
      const peer = await tcpConnect(t, port);
      await peer.write(upgradeRequest().slice(0, 40 + i * 10));
      peer.reset();
    }
    await sleep(50);
    await prober.roundTrip();
    assert.equal(connections.length, 1, "only the prober connected");
    assert.deepEqual(errors, []);
    wire.check();
  });

  test("server: a reset while an async verify hook is pending aborts the handshake quietly", async (t) => {
    const wire = tripwire(t);
    const { port, url, server } = await echoServer(t, {
      verify: ({ request }) =>
        request.headers["x-slow"] ? new Promise((resolve) => setTimeout(() => resolve(true), 100)) : true,
    });
    const prober = await Prober.start(t, url);
    let connected = 0;
    server.on("connection", () => connected++);
    const peer = await tcpConnect(t, port);
    await peer.write(upgradeRequest({ headers: { "X-Slow": "1" } }));
    await sleep(20);
    peer.reset();
    await sleep(200);
    assert.equal(connected, 0, "no connection event for a socket reset before the 101");
    await prober.roundTrip();
    wire.check();
  });

  test("server: a reset while the server is sending a large message gives close 1006", async (t) => {
    const wire = tripwire(t);
    const { port, url, server } = await echoServer(t);
    const prober = await Prober.start(t, url);
    let local: Local | null = null;
    server.once("connection", (ws) => {
      local = new Local(ws, false);
      ws.send(Buffer.alloc(16 << 20));
    });
    const { peer } = await rawClient(t, port);
    await until(() => peer.received > 0 && local !== null, 3000, "the first bytes of the large message");
    peer.reset();
    const event = await (local as unknown as Local).close();
    assert.equal(event.code, 1006);
    await prober.roundTrip();
    wire.check();
  });

  test("client: a reset mid-frame gives error then close 1006", async (t) => {
    const wire = tripwire(t);
    const raw = await RawServer.start(t);
    const local = ourClient(t, raw.url);
    const { peer } = await raw.accept();
    await until(() => local.events.length > 0, 3000, "open");
    await peer.write(frame({ opcode: OP.text, payload: "x".repeat(1000) }).subarray(0, 300));
    peer.reset();
    const event = await local.close();
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    assert.deepEqual(local.types(), ["open", "error", "close"]);
    wire.check();
  });

  test("client: a reset before any response gives error then close 1006, and no open", async (t) => {
    const wire = tripwire(t);
    const raw = await RawServer.start(t, { raw: true });
    const local = ourClient(t, raw.url);
    const { peer } = await raw.accept();
    await until(() => peer.received > 10, 3000, "part of the request");
    peer.reset();
    const event = await local.close();
    assert.equal(event.code, 1006);
    assert.deepEqual(local.types(), ["error", "close"]);
    wire.check();
  });

  test("client: a reset in the middle of the 101 head gives error then close 1006, and no open", async (t) => {
    const wire = tripwire(t);
    const raw = await RawServer.start(t, { raw: true });
    const local = ourClient(t, raw.url);
    const { peer } = await raw.accept();
    await peer.readHead();
    await peer.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs");
    await sleep(10);
    peer.reset();
    const event = await local.close();
    assert.equal(event.code, 1006);
    assert.deepEqual(local.types(), ["error", "close"]);
    wire.check();
  });

  test("client: a reset while the client is sending a large message gives error then close 1006", async (t) => {
    const wire = tripwire(t);
    const raw = await RawServer.start(t);
    const local = ourClient(t, raw.url, undefined, false);
    const { peer } = await raw.accept();
    await until(() => local.events.length > 0, 3000, "open");
    peer.socket.pause();
    local.ws.send(new Uint8Array(32 << 20));
    await sleep(20);
    peer.reset();
    const event = await local.close();
    assert.equal(event.code, 1006);
    assert.deepEqual(local.types(), ["open", "error", "close"]);
    wire.check();
  });
});
