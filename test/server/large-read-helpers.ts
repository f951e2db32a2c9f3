import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { LARGE_READ_SIZE } from "../../src/connection/large-reads.js";
import type { MessageEvent } from "../../src/index.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { clientFrame, OP, RawClient, upgradeRequest, waitFor } from "./helpers.js";

// Shared by the tests of a server's large reads (src/connection/large-reads.ts): bursts that arrive in as few
// reads as the read size allows, and checks that each message keeps its own bytes.

export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
export const NODE_READ_SIZE = 64 * 1024;

/**
 * Sends `payloads` as masked binary frames in one write while the server's event loop is held up, so that
 * what the kernel has buffered for it is read in as few reads as the read size allows; resolves with the
 * largest chunk the server's socket read and what the server received.
 */
export async function burstInto(
  client: RawClient,
  socket: WebSocket,
  serverSocket: Socket,
  payloads: Buffer[],
): Promise<{ largestRead: number; received: Uint8Array[]; hashesOnArrival: string[] }> {
  let largestRead = 0;
  serverSocket.on("data", (chunk: Buffer) => {
    largestRead = Math.max(largestRead, chunk.length);
  });
  const received: Uint8Array[] = [];
  const hashesOnArrival: string[] = [];
  socket.binaryType = "nodebuffer";
  socket.addEventListener("message", (event) => {
    const data = (event as MessageEvent).data as Buffer;
    received.push(data);
    hashesOnArrival.push(sha256(data));
  });
  client.write(Buffer.concat(payloads.map((p) => clientFrame(OP.binary, p))));
  // Hold the server's loop for a moment: the kernel queues what arrives meanwhile (loopback's receive buffer
  // holds well over 64 KiB), to be read at once afterwards.
  const until = Date.now() + 150;
  while (Date.now() < until);
  await waitFor(() => received.length === payloads.length, 20_000, "every message");
  return { largestRead, received, hashesOnArrival };
}

export function assertOwnBytes(payloads: Buffer[], received: Uint8Array[], hashesOnArrival: string[]): void {
  for (let i = 0; i < payloads.length; i++) {
    assert.equal(received[i].length, payloads[i].length, `message ${i}: length`);
    assert.equal(hashesOnArrival[i], sha256(payloads[i]), `message ${i}: bytes on arrival`);
    assert.equal(sha256(received[i]), sha256(payloads[i]), `message ${i}: bytes at the end`);
  }
}

/** 2 MiB in messages of sizes around the read sizes, small ones between them. */
export function mixedPayloads(): Buffer[] {
  const sizes = [40_000, 17, NODE_READ_SIZE, 300_000, 125, LARGE_READ_SIZE - 10, 90_000, 1, 500_000, 70_000];
  return [...sizes, ...sizes].map((size) => randomBytes(size));
}

/** A raw client upgraded to WebSocket on `port`, and the server's side of it once `accepted` resolves. */
export async function upgraded<T>(
  t: Parameters<typeof RawClient.connect>[0],
  port: number,
  accepted: Promise<T>,
) {
  const client = await RawClient.connect(t, port);
  client.write(upgradeRequest());
  assert.equal((await client.readHead()).status, 101);
  return { client, accepted: await accepted };
}
