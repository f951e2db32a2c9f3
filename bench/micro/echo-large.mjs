// The user-space part of a server echoing large messages, without sockets: what a sockjet server and a ws
// server do per message between the kernel's reads and writes. Both are fed the same masked binary frames in
// fresh 64 KiB chunks (what Node's reads give), and echo every message back:
//   sockjet: Protocol (server role), each message sent back as WHATWG send(event.data) does — a borrowed
//            payload, copied into a pooled frame buffer (src/connection/frame-buffer-pool.ts) that is given
//            back at once, as a write the kernel takes whole would;
//   ws:      Receiver + Sender (bufferutil when installed), ws.send(data, { binary: true }) — header and the
//            received Buffer written by reference (ws does not copy: a payload changed after send() goes out
//            changed).
// "sockjet, no copy" is sockjet writing the payload by reference as ws does, which the WHATWG standard does not
// allow send() to do (the bytes are those at the call): it shows what the copy costs. µs per message, the
// minimum and median of 15 rounds (on a busy machine the minimum is the steadier figure).
//
//   npm run build && node bench/micro/echo-large.mjs
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Receiver, Sender } = require("ws");
const dist = new URL("../../dist/", import.meta.url);
const { Protocol } = await import(new URL("protocol/protocol.js", dist).href);
const { leaseFrameBuffer, releaseFrameBuffer } = await import(
  new URL("connection/frame-buffer-pool.js", dist).href
);

const READ = 64 * 1024;
const ROUNDS = 15;

/** A masked binary frame (RFC 6455 §5.2), built here so that neither writer under test plays a part. */
function maskedFrame(payload) {
  const key = randomBytes(4);
  const head = Buffer.alloc(payload.length < 65536 ? 4 : 10);
  head[0] = 0x82;
  if (payload.length < 65536) {
    head[1] = 0xfe;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head[1] = 0xff;
    head.writeUInt32BE(Math.floor(payload.length / 2 ** 32), 2);
    head.writeUInt32BE(payload.length >>> 0, 6);
  }
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3];
  return Buffer.concat([head, key, body]);
}

let written = 0;

function sockjet(borrowed) {
  let protocol = null;
  const handler = {
    write(chunk) {
      written += chunk.length;
      if (leased !== null && chunk.buffer === leased.buffer) {
        releaseFrameBuffer(leased);
        leased = null;
      }
    },
    lease(size) {
      leased = leaseFrameBuffer(size);
      return leased;
    },
    onMessage(data) {
      protocol.send(data, false, undefined, borrowed);
    },
    onPing() {},
    onPong() {},
    onCloseFrame() {},
    onFailure(error) {
      throw error;
    },
  };
  let leased = null;
  protocol = new Protocol({ role: "server", maxPayloadBytes: 64 * 1024 * 1024 }, handler);
  return (chunk) => protocol.receive(chunk);
}

function ws() {
  const socket = {
    cork() {},
    uncork() {},
    write(chunk, callback) {
      written += chunk.length;
      if (typeof callback === "function") callback();
      return true;
    },
  };
  const sender = new Sender(socket);
  const receiver = new Receiver({ isServer: true, binaryType: "nodebuffer", maxPayload: 64 * 1024 * 1024 });
  receiver.on("message", (data, isBinary) => sender.send(data, { binary: isBinary, mask: false, fin: true }));
  receiver.on("error", (error) => {
    throw error;
  });
  return (chunk) => receiver.write(chunk);
}

const contenders = [
  ["sockjet", sockjet(true)],
  ["sockjet, no copy", sockjet(false)],
  ["ws", ws()],
];
for (const size of [64 * 1024, 1024 * 1024]) {
  // 4 MiB of frames, echoed over and over; each 64 KiB read is a fresh buffer, as Node's reads are.
  const frames = (4 * 1024 * 1024) / size;
  const wire = Buffer.concat(Array.from({ length: frames }, () => maskedFrame(randomBytes(size))));
  const passes = 4;
  const samples = contenders.map(() => []);
  for (let round = 0; round < ROUNDS + 2; round++) {
    contenders.forEach(([, feed], i) => {
      const t0 = process.hrtime.bigint();
      for (let pass = 0; pass < passes; pass++) {
        for (let at = 0; at < wire.length; at += READ) feed(Buffer.from(wire.subarray(at, at + READ)));
      }
      if (round >= 2) samples[i].push(Number(process.hrtime.bigint() - t0) / (frames * passes));
    });
  }
  contenders.forEach(([name], i) => {
    const sorted = samples[i].sort((a, b) => a - b);
    const [min, med] = [sorted[0], sorted[ROUNDS >> 1]].map((ns) => (ns / 1000).toFixed(1));
    console.log(
      `${String(size).padStart(7)} B  ${name.padEnd(16)} ${min.padStart(6)} µs per message (min), ${med} (median)`,
    );
  });
}
if (written === 0) throw new Error("nothing was echoed");
