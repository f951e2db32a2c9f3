// Defects an outside reviewer reproduced in the connection core after issues 14 and 21 (the repros are in
// /work/review/core/): the "pause" slow consumer after the peer's Close, and rate limits while closing.
// Real sockets on 127.0.0.1, ports from the OS.

import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { describe, test } from "node:test";
import { Opcode } from "../../src/protocol/constants.js";
import type { CloseEvent, ErrorEvent } from "../../src/web/events.js";
import { StreamPeer } from "../conformance/stream-peer.js";
import { wireFrame } from "../deflate/helpers.js";
import { nextConnection, nextEvent, openClient, startServer, within } from "../server/helpers.js";

const MIB = 1024 * 1024;

describe('slowConsumer "pause" after the peer\'s Close', () => {
  test("regression: a reply larger than maxBufferedBytes, then the Close echo: no write to the ended socket (was an endless loop at 100% CPU), clean 1000", async (t) => {
    const { server, port } = await startServer(t, {
      slowConsumer: "pause",
      maxBufferedBytes: 64 * 1024,
      maxPayloadBytes: 32 * MIB,
    });
    const connection = nextConnection(server);
    const peer = await StreamPeer.open(port);
    t.after(() => peer.destroy());
    const [ws, request] = await connection;
    // Writes to our socket once it is ended are counted and not passed on: before the fix, each one's error
    // callback wrote again, forever (the event loop never came back, so no timeout could fire).
    const socket = request.socket as Socket;
    const write = socket.write;
    let writesAfterEnd = 0;
    socket.write = function (this: Socket, ...args: Parameters<Socket["write"]>) {
      if (this.writableEnded || this.destroyed) {
        writesAfterEnd++;
        return false;
      }
      return write.apply(this, args);
    } as Socket["write"];
    const reply = Buffer.alloc(8 * MIB, 0x61);
    ws.addEventListener("message", () => ws.send(reply));
    const closed = new Promise<{ code: number; wasClean: boolean }>((resolve) =>
      ws.addEventListener("close", (event) =>
        resolve(event as unknown as { code: number; wasClean: boolean }),
      ),
    );
    // A message and the Close in one segment: the reply and the Close echo are written in the same read.
    const message = wireFrame({ opcode: Opcode.Text, payload: Buffer.from("hi"), masked: true });
    const close = wireFrame({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]), masked: true });
    peer.socket.write(Buffer.concat([message, close]));
    const echo = await peer.readMessage(10_000);
    assert.equal(echo.opcode, Opcode.Binary);
    assert.ok(echo.payload.equals(reply), "the reply arrives whole");
    const closeEcho = await peer.readFrame(5000);
    assert.equal(closeEcho.opcode, Opcode.Close);
    assert.equal(closeEcho.payload.readUInt16BE(0), 1000);
    const event = await within(closed, 5000, "the server's close event");
    assert.deepEqual([event.code, event.wasClean], [1000, true]);
    assert.equal(writesAfterEnd, 0, "writes to the ended socket");
  });
});

describe("rate limits while closing", () => {
  test("regression: frames that arrive after our Close are drained, not refused (was 1006 and SJ_ERR_RATE_LIMITED after a clean close)", async (t) => {
    const { server, url } = await startServer(t, {
      rateLimit: { framesPerSecond: 10, frameBurst: 10, onExceeded: "close" },
    });
    const connection = nextConnection(server);
    const client = await openClient(t, url);
    const [ws] = await connection;
    const serverEvents: string[] = [];
    ws.addEventListener("message", () => {
      if (ws.readyState === ws.OPEN) ws.close(1000, "enough");
    });
    ws.addEventListener("error", (event) => serverEvents.push(`error ${(event as ErrorEvent).error?.code}`));
    const closed = new Promise<void>((resolve) =>
      ws.addEventListener("close", (event) => {
        const { code, wasClean } = event as CloseEvent;
        serverEvents.push(`close ${code} wasClean=${wasClean}`);
        resolve();
      }),
    );
    // Three times the burst, back to back: the server's Close goes out after the first.
    for (let i = 0; i < 30; i++) client.send(`m${i}`);
    const clientClose = nextEvent<CloseEvent>(client, "close");
    await within(closed, 5000, "the server's close event");
    assert.deepEqual(serverEvents, ["close 1000 wasClean=true"]);
    const event = await clientClose;
    assert.deepEqual([event.code, event.reason, event.wasClean], [1000, "enough", true]);
  });
});
