// A "nodebuffer" message is a view of the bytes Node read (no copy), and a text message from 256 B that is
// all ASCII is decoded as Latin-1 (issue 17). Every message of long bursts is kept to the end and checked
// then: no view may be overwritten by a later read, a later unmasking or the reuse of the output slab, and
// text must decode the same on either path. Real sockets on 127.0.0.1.
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test } from "node:test";
import { WebSocket, WebSocketServer } from "../../src/index.js";

const MESSAGES = 3000;

/** Distinct bytes per message: its number, then a pattern that depends on it. */
function messageBytes(n: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (n * 7 + i * 13) & 0xff;
  bytes.writeUInt32BE(n, 0);
  return bytes;
}

/** Text of `size` UTF-16 units: ASCII, or with a non-ASCII character (é, 2 bytes in UTF-8) near the end. */
function messageText(n: number, size: number, ascii: boolean): string {
  const head = `${n}:`;
  let body = "";
  for (let i = head.length; i < size; i++) body += String.fromCharCode(0x21 + ((n + i) % 90));
  const text = head + body;
  return ascii ? text : `${text.slice(0, -2)}é${text.slice(-1)}`;
}

async function echoPair(): Promise<{ server: WebSocketServer; client: WebSocket; kept: unknown[] }> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await once(server, "listening");
  const kept: unknown[] = [];
  server.on("connection", (socket: WebSocket) => {
    socket.binaryType = "nodebuffer";
    socket.onmessage = (event) => {
      kept.push(event.data);
      socket.send(event.data as Buffer | string);
    };
  });
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}/`);
  client.binaryType = "nodebuffer";
  await once(client, "open");
  return { server, client, kept };
}

async function roundTrip(client: WebSocket, messages: (Buffer | string)[]): Promise<unknown[]> {
  const echoes: unknown[] = [];
  const done = new Promise<void>((resolve, reject) => {
    client.onmessage = (event) => {
      echoes.push(event.data);
      if (echoes.length === messages.length) resolve();
    };
    client.onclose = () => reject(new Error("closed before every echo arrived"));
  });
  // Bursts of 16 in flight, as the benchmark's load: many messages per read at both ends.
  for (let at = 0; at < messages.length; at += 16) {
    for (const message of messages.slice(at, at + 16)) client.send(message);
    await new Promise((r) => setImmediate(r));
  }
  const timeout = setTimeout(() => client.close(), 20_000);
  await done;
  clearTimeout(timeout);
  return echoes;
}

describe("received messages kept to the end of a long run", () => {
  for (const size of [32, 1024, 5000]) {
    test(`binary ${size} B: every Buffer the server and the client were given still holds its bytes`, async () => {
      const { server, client, kept } = await echoPair();
      const sent = Array.from({ length: MESSAGES }, (_, n) => messageBytes(n, size));
      const echoes = await roundTrip(client, sent);
      client.close();
      server.close();
      for (let n = 0; n < MESSAGES; n++) {
        assert.ok(Buffer.isBuffer(kept[n]) && (kept[n] as Buffer).equals(sent[n]), `server's message ${n}`);
        assert.ok(Buffer.isBuffer(echoes[n]) && (echoes[n] as Buffer).equals(sent[n]), `echo ${n}`);
      }
    });
  }

  for (const ascii of [true, false]) {
    test(`text of 300-2300 characters, ${ascii ? "all ASCII" : "with non-ASCII"}: the same strings at both ends`, async () => {
      const { server, client, kept } = await echoPair();
      const sent = Array.from({ length: 1000 }, (_, n) => messageText(n, 300 + ((n * 97) % 2000), ascii));
      const echoes = await roundTrip(client, sent);
      client.close();
      server.close();
      assert.deepEqual(kept, sent);
      assert.deepEqual(echoes, sent);
    });
  }

  test("invalid UTF-8 in a long text message that starts as ASCII still fails the connection with 1007", async () => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    await once(server, "listening");
    const { createConnection } = await import("node:net");
    const port = (server.address() as { port: number }).port;
    const raw = createConnection(port, "127.0.0.1");
    await once(raw, "connect");
    let bytes = Buffer.alloc(0);
    raw.on("data", (chunk: Buffer) => {
      bytes = Buffer.concat([bytes, chunk]);
    });
    const ended = once(raw, "close");
    raw.write(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    // 600 bytes: ASCII, then 0xff (never valid in UTF-8) at the end; masked with a zero key.
    const payload = Buffer.alloc(600, 0x61);
    payload[599] = 0xff;
    const header = Buffer.from([0x81, 0x80 | 126, 600 >> 8, 600 & 0xff, 0, 0, 0, 0]);
    raw.write(Buffer.concat([header, payload]));
    const timeout = setTimeout(() => raw.destroy(), 5000);
    await ended;
    clearTimeout(timeout);
    server.close();
    // After the 101 response, the server's Close frame: RFC 6455 §7.4.1, 1007 for data inconsistent with the
    // message's type.
    const frame = bytes.subarray(bytes.indexOf("\r\n\r\n") + 4);
    assert.equal(frame[0], 0x88, "a Close frame");
    assert.equal(frame.readUInt16BE(2), 1007);
  });
});
