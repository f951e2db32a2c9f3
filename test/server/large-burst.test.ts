import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { MessageEvent } from "../../src/index.js";
import {
  clientFrame,
  nextConnection,
  OP,
  RawClient,
  startServer,
  upgradeRequest,
  waitFor,
} from "./helpers.js";

// A burst of large and small messages reaches a server in a few reads: every message handed to the
// application must stay its own bytes after later reads, unmasking and the echoes' frame buffers (pooled and
// reused once written) have gone through — no view of a buffer that is later reused may reach the app. Each
// received message is kept until the end and checked whole, and so is every echo.

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Around Node's 64 KiB read, the 16 KiB slab limit, the pooled frame classes and 1 MiB. */
const SIZES = [1, 125, 126, 16_384, 16_385, 65_535, 65_536, 70_000, 200_000, 17, 1_048_576, 300_000, 33];

for (const binaryType of ["nodebuffer", "arraybuffer"] as const) {
  describe(`server receives a burst of large messages (binaryType "${binaryType}")`, () => {
    it("every kept message and every echo has its own bytes at the end", async (t) => {
      const { server, port } = await startServer(t, { perMessageDeflate: false });
      const payloads = Array.from({ length: 2 }, () => SIZES.map((size) => randomBytes(size))).flat();
      const kept: Uint8Array[] = [];
      const hashesOnArrival: string[] = [];
      const connected = nextConnection(server);
      const client = await RawClient.connect(t, port);
      client.write(upgradeRequest());
      assert.equal((await client.readHead()).status, 101);
      const [socket] = await connected;
      socket.binaryType = binaryType;
      socket.addEventListener("message", (event) => {
        const data = (event as MessageEvent).data as Buffer | ArrayBuffer;
        const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
        kept.push(bytes);
        hashesOnArrival.push(sha256(bytes));
        socket.send(data);
      });
      // All the frames in one write (RFC 6455 §5.4: every third message as two fragments), read in whatever
      // pieces TCP gives the server.
      const frames: Buffer[] = [];
      payloads.forEach((p, i) => {
        if (i % 3 === 2 && p.length > 2) {
          const cut = p.length >> 1;
          frames.push(clientFrame(OP.binary, p.subarray(0, cut), { fin: false }));
          frames.push(clientFrame(OP.continuation, p.subarray(cut)));
        } else frames.push(clientFrame(OP.binary, p));
      });
      client.write(Buffer.concat(frames));
      for (let i = 0; i < payloads.length; i++) {
        const frame = await client.readFrame(20_000);
        assert.equal(frame.opcode, OP.binary, `echo ${i}: opcode`);
        assert.equal(sha256(frame.payload), sha256(payloads[i]), `echo ${i}: bytes`);
      }
      await waitFor(() => kept.length === payloads.length, 5000, "every message");
      for (let i = 0; i < payloads.length; i++) {
        assert.equal(kept[i].byteLength, payloads[i].length, `message ${i}: length`);
        assert.equal(hashesOnArrival[i], sha256(payloads[i]), `message ${i}: bytes on arrival`);
        assert.equal(sha256(kept[i]), sha256(payloads[i]), `message ${i}: bytes at the end`);
      }
    });
  });
}
