import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { CloseEvent } from "../../src/web/events.js";
import {
  type Cleanup,
  clientClose,
  clientFrame,
  hex,
  nextEvent,
  OP,
  onMessage,
  openClient,
  RawClient,
  startServer,
  waitFor,
  within,
} from "./helpers.js";

// A raw client completes a good handshake, then sends frames that break RFC 6455: the server answers with a
// Close frame carrying the right status code (the exact bytes on the wire), closes the TCP connection, and
// meanwhile goes on serving a second, well-behaved client.

/** An echo server, a well-behaved client of ours on it, and a raw client past the handshake. */
async function setUp(t: Cleanup, options: Parameters<typeof startServer>[1] = {}) {
  const started = await startServer(t, options);
  const serverCloses: CloseEvent[] = [];
  started.server.on("connection", (ws) => {
    ws.binaryType = "arraybuffer";
    onMessage(ws, (data) => ws.send(data));
    ws.addEventListener("close", (event: Event) => serverCloses.push(event as CloseEvent));
  });
  const good = await openClient(t, started.url);
  const raw = await RawClient.connect(t, started.port);
  await raw.handshake();
  return { ...started, good, raw, serverCloses };
}

/** The well-behaved client still gets its echo. */
async function assertGoodClientServed(good: Awaited<ReturnType<typeof setUp>>["good"], text: string) {
  const reply = nextEvent<MessageEvent>(good, "message");
  good.send(text);
  assert.equal((await reply).data, text);
}

/** The raw client's next frame is exactly `closeHex`, then EOF. */
async function assertFailedWith(raw: RawClient, closeHex: string) {
  const frame = await raw.readFrame();
  // The code as given; after it, a reason (RFC 6455 §7.1.6) that says why, checked by its own tests.
  const code = closeHex.split(" ").slice(2).join(" ");
  assert.equal(hex(frame.bytes.subarray(0, 1)), "88");
  assert.equal(hex(frame.payload.subarray(0, 2)), code);
  assert.ok(frame.payload.length > 2, "the Close frame has a reason");
  await raw.expectEof();
  assert.equal(raw.buffer.length, 0, "nothing after the Close frame");
  await raw.finish();
}

describe("RFC 6455 §5.1 / §7.1.7 server fails a connection that breaks framing rules", () => {
  test("server receives an unmasked frame 81 05 'hello' → sends Close 1002 (88 02 03 ea), then EOF", async (t) => {
    const { good, raw, serverCloses } = await setUp(t);
    raw.write(clientFrame(OP.text, "hello", { mask: null }));
    await assertFailedWith(raw, "88 02 03 ea");
    await assertGoodClientServed(good, "still here");
    // The failed connection's WebSocket closed abnormally on the server (no Close was received).
    assert.equal(serverCloses.length, 1);
    assert.equal(serverCloses[0].code, 1006);
    assert.equal(serverCloses[0].wasClean, false);
  });

  test("server receives a reserved opcode 0x3 → Close 1002, then EOF", async (t) => {
    const { good, raw } = await setUp(t);
    raw.write(clientFrame(0x3, "x"));
    await assertFailedWith(raw, "88 02 03 ea");
    await assertGoodClientServed(good, "ok");
  });

  test("server receives a continuation with no message started (§5.4) → Close 1002", async (t) => {
    const { raw } = await setUp(t);
    raw.write(clientFrame(OP.continuation, "x"));
    await assertFailedWith(raw, "88 02 03 ea");
  });

  test("server receives a ping of 126 bytes (§5.5: control payload ≤ 125) → Close 1002", async (t) => {
    const { raw } = await setUp(t);
    raw.write(clientFrame(OP.ping, Buffer.alloc(126)));
    await assertFailedWith(raw, "88 02 03 ea");
  });
});

describe("RFC 6455 §8.1 server fails a text message with invalid UTF-8", () => {
  test("server receives a text frame with bytes ff fe → Close 1007 (88 02 03 ef), then EOF", async (t) => {
    const { good, raw, serverCloses } = await setUp(t);
    raw.write(clientFrame(OP.text, Buffer.from([0x68, 0xff, 0xfe])));
    await assertFailedWith(raw, "88 02 03 ef");
    await assertGoodClientServed(good, "ok");
    assert.equal(serverCloses[0]?.code, 1006);
  });

  test("server receives invalid UTF-8 in the first fragment of a text message → Close 1007 before the message ends", async (t) => {
    const { raw } = await setUp(t);
    raw.write(clientFrame(OP.text, Buffer.from([0xc0, 0xaf]), { fin: false }));
    await assertFailedWith(raw, "88 02 03 ef");
  });
});

describe("RFC 6455 §10.4 server limits: too big → 1009", () => {
  test("server receives the header of a 2048-byte frame (maxPayloadBytes 1024) → Close 1009 (88 02 03 f1) before any payload", async (t) => {
    const { good, raw } = await setUp(t, { maxPayloadBytes: 1024 });
    // Header only: FIN+binary, masked, 16-bit length 2048, masking key. Not one payload byte follows.
    const header = clientFrame(OP.binary, "", { length: 2048 });
    assert.equal(hex(header), "82 fe 08 00 37 fa 21 3d");
    raw.write(header);
    await assertFailedWith(raw, "88 02 03 f1");
    await assertGoodClientServed(good, "ok");
  });

  test("regression: maxPayloadBytes Infinity, a header announcing 8 GiB then bytes in two writes → Close 1009, the server lives", async (t) => {
    // It allocated what the header announced at the second piece: a RangeError past the largest Buffer, thrown
    // in the socket's data handler, ended the process (attacker review).
    const { good, raw } = await setUp(t, { maxPayloadBytes: Number.POSITIVE_INFINITY });
    raw.write(clientFrame(OP.binary, "", { length: 8 * 2 ** 30 }));
    await assertFailedWith(raw, "88 02 03 f1");
    await assertGoodClientServed(good, "still here");
  });

  test("server receives a message of exactly maxPayloadBytes → delivered", async (t) => {
    const { raw } = await setUp(t, { maxPayloadBytes: 1024 });
    raw.write(clientFrame(OP.binary, Buffer.alloc(1024, 0x61)));
    const echo = await raw.readFrame();
    assert.equal(echo.opcode, OP.binary);
    assert.equal(echo.payload.length, 1024);
  });

  test("server receives fragments adding up past maxPayloadBytes (600 + 600 > 1024) → Close 1009", async (t) => {
    const { raw } = await setUp(t, { maxPayloadBytes: 1024 });
    raw.write(clientFrame(OP.binary, Buffer.alloc(600), { fin: false }));
    raw.write(clientFrame(OP.continuation, "", { length: 600 }));
    await assertFailedWith(raw, "88 02 03 f1");
  });

  test("server receives a message in 5 empty fragments (maxFragmentsPerMessage 4) → Close 1009", async (t) => {
    const { good, raw } = await setUp(t, { maxFragmentsPerMessage: 4 });
    raw.write(clientFrame(OP.text, "", { fin: false }));
    for (let i = 0; i < 3; i++) raw.write(clientFrame(OP.continuation, "", { fin: false }));
    raw.write(clientFrame(OP.continuation, "", { fin: false }));
    await assertFailedWith(raw, "88 02 03 f1");
    await assertGoodClientServed(good, "ok");
  });

  test("server receives a message in exactly maxFragmentsPerMessage (4) fragments → delivered whole", async (t) => {
    const { raw } = await setUp(t, { maxFragmentsPerMessage: 4 });
    raw.write(clientFrame(OP.text, "a", { fin: false }));
    raw.write(clientFrame(OP.continuation, "b", { fin: false }));
    raw.write(clientFrame(OP.continuation, "c", { fin: false }));
    raw.write(clientFrame(OP.continuation, "d"));
    const echo = await raw.readFrame();
    assert.equal(hex(echo.bytes), "81 04 61 62 63 64");
  });
});

describe("RFC 6455 §5.5 control frames from a raw client", () => {
  test("server answers Ping 'hi' with Pong 'hi' (8a 02 68 69), also between fragments (§5.4)", async (t) => {
    const { raw } = await setUp(t);
    raw.write(clientFrame(OP.text, "ab", { fin: false }));
    raw.write(clientFrame(OP.ping, "hi"));
    raw.write(clientFrame(OP.continuation, "cd"));
    const pong = await raw.readFrame();
    assert.equal(hex(pong.bytes), "8a 02 68 69");
    const echo = await raw.readFrame();
    assert.equal(hex(echo.bytes), "81 04 61 62 63 64");
  });

  test("server receives Close 1000 'bye' → echoes Close 1000 'bye' (88 05 03 e8 62 79 65), closes TCP first (§7.1.1)", async (t) => {
    const { raw, serverCloses } = await setUp(t);
    raw.write(clientClose(1000, "bye"));
    const frame = await raw.readFrame();
    assert.equal(hex(frame.bytes), "88 05 03 e8 62 79 65");
    await raw.finish();
    await waitFor(() => serverCloses.length === 1, 2000, "the server's close event");
    assert.equal(serverCloses[0].code, 1000);
    assert.equal(serverCloses[0].reason, "bye");
    assert.equal(serverCloses[0].wasClean, true);
  });

  test("server receives Close with invalid code 1005 (§7.4.1: never on the wire) → Close 1002", async (t) => {
    const { raw } = await setUp(t);
    raw.write(clientClose(1005));
    await assertFailedWith(raw, "88 02 03 ea");
  });
});

describe("server keeps serving while a peer misbehaves", () => {
  test("ten raw clients fail at once while a good client exchanges 20 messages: every echo arrives, in order", async (t) => {
    const { server, good, port } = await setUp(t);
    const raws = await Promise.all(Array.from({ length: 10 }, () => RawClient.connect(t, port)));
    await Promise.all(raws.map((r) => r.handshake()));
    const received: string[] = [];
    const all = new Promise<void>((resolve) => {
      onMessage(good, (data) => {
        received.push(data);
        if (received.length === 20) resolve();
      });
    });
    for (let i = 0; i < 20; i++) {
      good.send(`m${i}`);
      if (i < 10) raws[i].write(clientFrame(OP.text, "x", { mask: null }));
    }
    await Promise.all(raws.map((r) => assertFailedWith(r, "88 02 03 ea")));
    await within(all, 3000, "20 echoes");
    assert.deepEqual(
      received,
      Array.from({ length: 20 }, (_, i) => `m${i}`),
    );
    await waitFor(() => server.clients.size === 2, 2000, "the failed connections to leave `clients`");
  });
});
