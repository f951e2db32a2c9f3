import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeFrame } from "../../src/protocol/frame-writer.js";
import {
  binary,
  bytes,
  counting,
  createClient,
  createServer,
  FixedMaskKeys,
  hex,
  pinged,
  ponged,
  text,
  write,
} from "./helpers.js";

// RFC 6455 §5.7, byte for byte. Every example is checked in both directions: the receiving side parses the
// RFC's bytes into the right event, and the sending side produces exactly the RFC's bytes.

const UNMASKED_HELLO = "81 05 48 65 6c 6c 6f";
const MASKED_HELLO = "81 85 37 fa 21 3d 7f 9f 4d 51 58";
const FRAGMENT_HEL = "01 03 48 65 6c";
const FRAGMENT_LO = "80 02 6c 6f";
const UNMASKED_PING_HELLO = "89 05 48 65 6c 6c 6f";
const MASKED_PONG_HELLO = "8a 85 37 fa 21 3d 7f 9f 4d 51 58";
const BINARY_256_HEADER = "82 7e 01 00";
const BINARY_64K_HEADER = "82 7f 00 00 00 00 00 01 00 00";

const unmasked = { fin: true, rsv1: false, maskKeys: null };
const maskedWithRfcKey = () => ({ fin: true, rsv1: false, maskKeys: new FixedMaskKeys() });

/** Everything written since the last take(), joined: large frames may be written as header + payload. */
function wire(events: ReturnType<ReturnType<typeof createServer>["take"]>): string {
  return events
    .map((event) => {
      assert.equal(event.type, "write");
      return event.type === "write" ? event.bytes : "";
    })
    .join(" ");
}

describe("RFC 6455 §5.7 Examples: a single-frame unmasked text message", () => {
  test(`client receives ${UNMASKED_HELLO} → text "Hello"`, () => {
    assert.deepEqual(createClient().feed(bytes(UNMASKED_HELLO)), [text("Hello")]);
  });

  test(`server sends "Hello" → ${UNMASKED_HELLO}`, () => {
    const server = createServer();
    server.protocol.send(Buffer.from("Hello"), true);
    assert.deepEqual(server.take(), [write(UNMASKED_HELLO)]);
    assert.equal(hex(encodeFrame(0x1, Buffer.from("Hello"), unmasked)), UNMASKED_HELLO);
  });

  test(`server sends "Hello" with sendText (encoded into the frame) → ${UNMASKED_HELLO}`, () => {
    const server = createServer();
    assert.equal(server.protocol.sendText("Hello"), 5);
    assert.deepEqual(server.take(), [write(UNMASKED_HELLO)]);
  });
});

describe("RFC 6455 §5.7 Examples: a single-frame masked text message", () => {
  test(`server receives ${MASKED_HELLO} → text "Hello"`, () => {
    assert.deepEqual(createServer().feed(bytes(MASKED_HELLO)), [text("Hello")]);
  });

  test(`client with masking key 37 fa 21 3d sends "Hello" → ${MASKED_HELLO}`, () => {
    const client = createClient();
    const payload = Buffer.from("Hello");
    client.protocol.send(payload, true);
    assert.deepEqual(client.take(), [write(MASKED_HELLO)]);
    assert.equal(payload.toString(), "Hello", "the caller's payload is not masked in place");
    assert.equal(hex(encodeFrame(0x1, Buffer.from("Hello"), maskedWithRfcKey())), MASKED_HELLO);
  });

  test(`client with masking key 37 fa 21 3d sends "Hello" with sendText → ${MASKED_HELLO}`, () => {
    const client = createClient();
    client.protocol.sendText("Hello");
    assert.deepEqual(client.take(), [write(MASKED_HELLO)]);
  });
});

describe("RFC 6455 §5.7 Examples: a fragmented unmasked text message", () => {
  test(`client receives ${FRAGMENT_HEL} then ${FRAGMENT_LO} → text "Hello" after the second`, () => {
    const client = createClient();
    assert.deepEqual(client.feed(bytes(FRAGMENT_HEL)), []);
    assert.deepEqual(client.feed(bytes(FRAGMENT_LO)), [text("Hello")]);
  });

  test(`"Hel" (FIN=0, text) and "lo" (FIN=1, continuation) serialize to ${FRAGMENT_HEL} and ${FRAGMENT_LO}`, () => {
    assert.equal(hex(encodeFrame(0x1, Buffer.from("Hel"), { ...unmasked, fin: false })), FRAGMENT_HEL);
    assert.equal(hex(encodeFrame(0x0, Buffer.from("lo"), unmasked)), FRAGMENT_LO);
  });
});

describe("RFC 6455 §5.7 Examples: unmasked Ping request and masked Ping response", () => {
  test(`client receives ${UNMASKED_PING_HELLO} → answers ${MASKED_PONG_HELLO}, then reports the ping`, () => {
    assert.deepEqual(createClient().feed(bytes(UNMASKED_PING_HELLO)), [
      write(MASKED_PONG_HELLO),
      pinged("Hello"),
    ]);
  });

  test(`server sends ping "Hello" → ${UNMASKED_PING_HELLO}`, () => {
    const server = createServer();
    server.protocol.ping(Buffer.from("Hello"));
    assert.deepEqual(server.take(), [write(UNMASKED_PING_HELLO)]);
  });

  test(`server receives ${MASKED_PONG_HELLO} → pong "Hello", nothing written`, () => {
    assert.deepEqual(createServer().feed(bytes(MASKED_PONG_HELLO)), [ponged("Hello")]);
  });

  test(`client with key 37 fa 21 3d sends pong "Hello" → ${MASKED_PONG_HELLO}`, () => {
    const client = createClient();
    client.protocol.pong(Buffer.from("Hello"));
    assert.deepEqual(client.take(), [write(MASKED_PONG_HELLO)]);
    assert.equal(hex(encodeFrame(0xa, Buffer.from("Hello"), maskedWithRfcKey())), MASKED_PONG_HELLO);
  });
});

describe("RFC 6455 §5.7 Examples: 256 bytes binary message in a single unmasked frame", () => {
  const payload = counting(256);

  test(`client receives ${BINARY_256_HEADER} + 256 bytes → one 256-byte binary message`, () => {
    assert.deepEqual(createClient().feed(bytes(BINARY_256_HEADER, payload)), [binary(payload)]);
  });

  test(`server sends 256 bytes → ${BINARY_256_HEADER} + the bytes`, () => {
    const server = createServer();
    server.protocol.send(payload, false);
    assert.equal(wire(server.take()), hex(bytes(BINARY_256_HEADER, payload)));
    assert.equal(hex(encodeFrame(0x2, payload, unmasked)), hex(bytes(BINARY_256_HEADER, payload)));
  });
});

describe("RFC 6455 §5.7 Examples: 64KiB binary message in a single unmasked frame", () => {
  const payload = counting(65536, 7);

  test(`client receives ${BINARY_64K_HEADER} + 65536 bytes → one 65536-byte binary message`, () => {
    assert.deepEqual(createClient().feed(bytes(BINARY_64K_HEADER, payload)), [binary(payload)]);
  });

  test(`server sends 65536 bytes → ${BINARY_64K_HEADER} + the bytes`, () => {
    const server = createServer();
    server.protocol.send(payload, false);
    assert.equal(wire(server.take()), hex(bytes(BINARY_64K_HEADER, payload)));
    assert.equal(hex(encodeFrame(0x2, payload, unmasked)), hex(bytes(BINARY_64K_HEADER, payload)));
  });
});
