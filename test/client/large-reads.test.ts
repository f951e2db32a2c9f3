import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { ownReadBuffers } from "../../src/connection/large-reads.js";
import type { MessageEvent } from "../../src/index.js";
import { acceptHandshake, connect, frame, next, rawServer, switchingProtocols, until } from "./helpers.js";

// A plain ws:// client reads through one read buffer shared by every socket and reused for every read
// (src/client/large-read-socket.ts). Whatever it hands to the application must be its own bytes: a message
// received early keeps its content after many later reads have gone through the same buffer.

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Sizes across the read buffer's size (256 KiB) and Node's usual 64 KiB read: small, straddling, larger. */
const SIZES = [1, 125, 126, 4000, 65535, 65536, 70_000, 200_000, 262_144, 300_000, 17, 1_000_000, 33];

describe("client reads (shared read buffer)", () => {
  test("every message keeps its bytes after later reads (sha256 of each, kept until the end)", async (t) => {
    const payloads = Array.from({ length: 3 }, () => SIZES.map((size) => randomBytes(size))).flat();
    const server = await rawServer(t, async (reader) => {
      const request = await reader.readRequest();
      // The 101 and the first frames in one write: the bytes after the response reach the connection as `head`.
      const first = payloads[0];
      reader.socket.write(
        Buffer.concat([
          Buffer.from(switchingProtocols(request.headers["sec-websocket-key"])),
          frame(2, first),
        ]),
      );
      for (let i = 1; i < payloads.length; i++) {
        const p = payloads[i];
        if (i % 4 === 0 && p.length > 2) {
          // RFC 6455 §5.4: the same message as two fragments
          const cut = p.length >> 1;
          reader.socket.write(frame(2, p.subarray(0, cut), { fin: false }));
          reader.socket.write(frame(0, p.subarray(cut)));
        } else reader.socket.write(frame(2, p));
      }
    });
    const ws = connect(t, server.url);
    ws.binaryType = "nodebuffer";
    const received: Buffer[] = [];
    const hashesOnArrival: string[] = [];
    ws.addEventListener("message", (event) => {
      const data = (event as MessageEvent).data as Buffer;
      received.push(data);
      hashesOnArrival.push(sha256(data));
    });
    await next(ws, "open");
    await until(() => received.length === payloads.length, 10_000, "every message");
    for (let i = 0; i < payloads.length; i++) {
      assert.equal(received[i].length, payloads[i].length, `message ${i}: length`);
      assert.equal(hashesOnArrival[i], sha256(payloads[i]), `message ${i}: bytes on arrival`);
      assert.equal(sha256(received[i]), sha256(payloads[i]), `message ${i}: bytes at the end`);
    }
    // A socket that streamed large reads may hold a read buffer of its own until its next read: not once closed.
    ws.terminate();
    await next(ws, "close");
    await until(() => ownReadBuffers() === 0, 5000, "the socket's own read buffer to be given back");
  });

  test("arraybuffer messages too, with the server writing faster than the client reads", async (t) => {
    const payloads = Array.from({ length: 40 }, (_, i) => randomBytes(i % 2 === 0 ? 90_000 : 40));
    const server = await rawServer(t, async (reader) => {
      await acceptHandshake(reader);
      reader.socket.write(Buffer.concat(payloads.map((p) => frame(2, p))));
    });
    const ws = connect(t, server.url);
    ws.binaryType = "arraybuffer";
    const received: ArrayBuffer[] = [];
    ws.addEventListener("message", (event) => received.push((event as MessageEvent).data as ArrayBuffer));
    await next(ws, "open");
    await until(() => received.length === payloads.length, 10_000, "every message");
    for (let i = 0; i < payloads.length; i++) {
      assert.equal(sha256(new Uint8Array(received[i])), sha256(payloads[i]), `message ${i}`);
    }
  });
});
