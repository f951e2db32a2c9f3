import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { WebSocket, WebSocketServer } from "../../src/index.js";

// Frames sent to a connection during other connections' reads wait for the end of the I/O phase, gathering
// many reads (src/connection/output-batcher.ts). A subscriber that reads promptly must not be judged a slow
// consumer for that batch (review of 547fa1b: 32 publishers × 16 KiB at once, a 64 KiB limit: closed 1008
// under "close", 140 of 160 publishes dropped under "pause").

const PUBLISHERS = 32;
const ROUNDS = 5;
const SIZE = 16 * 1024;

for (const slowConsumer of ["close", "pause"] as const) {
  for (const mode of ["publish", "send"] as const) {
    test(`fan-in to a prompt reader within maxBufferedBytes: all delivered (${slowConsumer}, ${mode})`, async () => {
      const server = new WebSocketServer({
        port: 0,
        host: "127.0.0.1",
        maxBufferedBytes: 64 * 1024,
        slowConsumer,
      });
      await once(server, "listening");
      const { port } = server.address() as AddressInfo;
      let subscriber: WebSocket | null = null;
      let dropped = 0;
      server.on("connection", (socket, request) => {
        if (request.url === "/sub") {
          subscriber = socket;
          socket.subscribe("t");
          return;
        }
        socket.binaryType = "nodebuffer";
        socket.onmessage = (event) => {
          if (mode === "send") subscriber!.send(event.data);
          else if (server.publish("t", event.data) === 0) dropped++;
        };
      });
      const open = async (path: string) => {
        const socket = new WebSocket(`ws://127.0.0.1:${port}${path}`);
        socket.binaryType = "arraybuffer";
        await once(socket, "open");
        return socket;
      };
      const sub = await open("/sub");
      let got = 0;
      let closeCode: number | null = null;
      sub.onmessage = () => got++;
      sub.onclose = (event) => {
        closeCode = event.code;
      };
      const publishers = await Promise.all(Array.from({ length: PUBLISHERS }, () => open("/pub")));
      const payload = new Uint8Array(SIZE);
      for (let round = 0; round < ROUNDS; round++) {
        for (const publisher of publishers) publisher.send(payload);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      for (let i = 0; i < 100 && got < PUBLISHERS * ROUNDS && closeCode === null; i++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(closeCode, null, "the subscriber was not closed");
      assert.equal(dropped, 0, "no publish dropped");
      assert.equal(got, PUBLISHERS * ROUNDS);
      for (const publisher of publishers) publisher.close();
      sub.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
  }
}
