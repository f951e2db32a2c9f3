// The load for the permessage-deflate echo benchmark (bench/client.ts): a Node client that negotiates
// permessage-deflate and keeps compressed ~1 KiB JSON text messages in flight on a few connections, so that
// the server's inflate + deflate per message is what is measured, not the client's.
//
//   node bench/clients/deflate-driver.mjs '{"url":"ws://127.0.0.1:PORT/","conns":16,"window":16,
//                                          "duration":3,"warmup":1,"serverPid":123}'
//
// - Handshake over `net` offering what browsers offer (`permessage-deflate; client_max_window_bits`); the
//   server must accept permessage-deflate (whatever parameters it picks).
// - 64 different JSON messages (1,072–1,080 bytes, the shape of bench/deflate.ts), each compressed once, up
//   front and independently (valid whatever context takeover was agreed), framed, masked: sending costs a
//   write. Sends made while handling one read are written together (cork/uncork).
// - Every echo must be a final, compressed (RSV1) text frame. During the warm-up each echo is inflated (with
//   the connection's earlier messages as the window, so also under the server's context takeover) and checked
//   byte for byte against what was sent; in the measured window only frame headers are parsed.
//
// Output: `RESULT {json}` like bench/clients/echo-client.mjs, plus extensions (the server's
// Sec-WebSocket-Extensions) and echoBytes (mean compressed payload bytes per echo). Exit 0, or 1 on error.
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import zlib from "node:zlib";
import { cpuWindow, untilCalled } from "./common.mjs";
import { jsonMessage } from "./json-message.mjs";

const o = JSON.parse(process.argv[2] ?? "{}");
const { url, conns, window, duration, warmup } = o;
const serverPid = Number(o.serverPid ?? 0);
const target = new URL(url);

function fail(message) {
  process.stdout.write(
    `RESULT ${JSON.stringify({ client: "deflate-driver", errors: 1, error: String(message) })}\n`,
  );
  process.exit(1);
}
process.on("uncaughtException", (error) => fail(error?.stack ?? error));
process.on("unhandledRejection", (error) => fail(error?.stack ?? error));
setTimeout(() => fail("timed out"), (warmup + duration + 60) * 1000).unref();

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** the largest LZ77 window (server_max_window_bits 15) */
const WINDOW_BYTES = 32 * 1024;
const MESSAGES = 64;
const messages = [];
const frames = [];
const mask = randomBytes(4);
for (let i = 0; i < MESSAGES; i++) {
  const plain = jsonMessage(1000 + i); // 1,072–1,080 bytes: all above both servers' 1,024-byte threshold
  const deflated = zlib.deflateRawSync(plain, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  if (!deflated.subarray(-4).equals(TAIL)) throw new Error("deflate output does not end with 00 00 ff ff");
  const body = deflated.subarray(0, -4);
  const header = body.length < 126 ? Buffer.from([0xc1, 0x80 | body.length]) : Buffer.alloc(4);
  if (body.length >= 126) {
    header[0] = 0xc1; // FIN, RSV1 (compressed), text
    header[1] = 0x80 | 126;
    header.writeUInt16BE(body.length, 2);
  }
  const masked = Buffer.from(body);
  for (let k = 0; k < masked.length; k++) masked[k] ^= mask[k & 3];
  messages.push(plain);
  frames.push(Buffer.concat([header, mask, masked]));
}

let measuring = false;
let verifying = true;
let sending = true;
let received = 0;
let receivedBytes = 0;
let sentTotal = 0;
let receivedTotal = 0;
let errors = 0;
let done = false;
let firstError = "";
let extensions = "";
let onDrained = null;

/** Any error ends the run (a wrong or missing echo makes the figures meaningless): RESULT with the error, exit 1. */
function error(message) {
  if (done) return; // the figures are out: what happens while closing does not matter
  errors++;
  if (!firstError) {
    firstError = message;
    setImmediate(() => fail(message));
  }
}

class Conn {
  constructor(id) {
    this.id = id;
    this.sent = 0;
    this.received = 0;
    this.pending = null; // bytes of an incomplete frame
    this.history = Buffer.alloc(0);
    this.verified = 0;
  }

  sendNext() {
    this.socket.write(frames[(this.sent + this.id) % MESSAGES]);
    this.sent++;
    sentTotal++;
  }

  /** parses server frames (unmasked) in `chunk` */
  onData(chunk) {
    let data = chunk;
    if (this.pending !== null) {
      data = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    this.socket.cork();
    let at = 0;
    const end = data.length;
    while (end - at >= 2) {
      const b0 = data[at];
      const len7 = data[at + 1] & 0x7f;
      const hdr = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
      if (end - at < hdr) break;
      const len =
        len7 < 126 ? len7 : len7 === 126 ? data.readUInt16BE(at + 2) : Number(data.readBigUInt64BE(at + 2));
      if (end - at < hdr + len) break;
      if ((data[at + 1] & 0x80) !== 0) error("a masked server frame");
      if (b0 === 0x88 && !sending) {
        at += hdr + len; // the server's answer to our Close, after the run
        continue;
      }
      if (b0 !== 0xc1)
        error(`an echo that is not one compressed text frame (first byte 0x${b0.toString(16)})`);
      if (verifying) this.verify(data.subarray(at + hdr, at + hdr + len));
      at += hdr + len;
      this.received++;
      receivedTotal++;
      if (measuring) {
        received++;
        receivedBytes += len;
      }
      if (sending) this.sendNext();
    }
    this.socket.uncork();
    if (at < end) this.pending = Buffer.from(data.subarray(at));
    if (!sending && receivedTotal === sentTotal && onDrained) onDrained();
  }

  /**
   * Inflates an echo as the server's context takeover requires: with the messages echoed before on this
   * connection (what was sent, so far verified) as the preset dictionary — the sliding window of the stream.
   */
  verify(payload) {
    const expected = messages[(this.received + this.id) % MESSAGES];
    let plain;
    try {
      plain = zlib.inflateRawSync(Buffer.concat([payload, TAIL]), {
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        dictionary: this.history.length > 0 ? this.history : undefined,
      });
    } catch (e) {
      error(`connection ${this.id}: an echo does not inflate (${e.message})`);
      return;
    }
    if (!plain.equals(expected)) error(`connection ${this.id}: an echo inflates to another message`);
    else this.verified++;
    this.history = Buffer.concat([this.history, expected]);
    if (this.history.length > WINDOW_BYTES) this.history = this.history.subarray(-WINDOW_BYTES);
  }
}

function connect(conn) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(target.port), target.hostname);
    socket.setNoDelay(true);
    conn.socket = socket;
    const key = randomBytes(16).toString("base64");
    const accept = createHash("sha1").update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
    socket.once("connect", () =>
      socket.write(
        `GET ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
          "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
      ),
    );
    let head = Buffer.alloc(0);
    const onHead = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const endOfHead = head.indexOf("\r\n\r\n");
      if (endOfHead < 0) return;
      socket.off("data", onHead);
      const text = head.subarray(0, endOfHead).toString("latin1");
      if (!text.startsWith("HTTP/1.1 101"))
        return reject(new Error(`handshake refused: ${text.split("\r\n")[0]}`));
      if (/\r\nsec-websocket-accept:\s*(\S+)/i.exec(text)?.[1] !== accept)
        return reject(new Error("wrong Sec-WebSocket-Accept"));
      const ext = /\r\nsec-websocket-extensions:\s*([^\r]*)/i.exec(text)?.[1] ?? "";
      if (!ext.startsWith("permessage-deflate"))
        return reject(new Error(`permessage-deflate not accepted ('${ext}')`));
      extensions = ext;
      socket.on("data", (c) => conn.onData(c));
      socket.on("close", () => {
        if (sending) error(`connection ${conn.id} closed early`);
      });
      if (endOfHead + 4 < head.length) conn.onData(head.subarray(endOfHead + 4));
      resolve();
    };
    socket.on("data", onHead);
    socket.on("error", (e) => {
      if (!sending) return; // the run is over: a reset while closing does not matter
      error(`connection ${conn.id}: ${e.message}`);
      reject(e);
    });
  });
}

const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000));

async function main() {
  const all = Array.from({ length: conns }, (_, i) => new Conn(i));
  await Promise.all(all.map(connect));
  for (const c of all) {
    c.socket.cork();
    for (let i = 0; i < window; i++) c.sendNext();
    c.socket.uncork();
  }
  await sleep(warmup);
  verifying = false;
  const endWindow = cpuWindow(serverPid);
  measuring = true;
  await sleep(duration);
  measuring = false;
  const cpu = endWindow();
  sending = false;
  if (receivedTotal < sentTotal) {
    await untilCalled((done) => {
      onDrained = done;
    });
  }
  if (receivedTotal !== sentTotal) error(`${sentTotal - receivedTotal} echo(es) missing at the end`);
  const verified = all.reduce((n, c) => n + c.verified, 0);
  if (verified === 0) error("no echo was verified during the warm-up");
  const result = {
    client: "deflate-driver",
    size: messages[0].length,
    conns,
    window,
    msgs: received,
    msgsPerS: received / cpu.secs,
    echoBytes: received > 0 ? receivedBytes / received : Number.NaN,
    verified,
    extensions,
    ...cpu,
    errors,
    error: firstError || undefined,
  };
  done = true;
  for (const c of all) {
    c.socket.end(Buffer.from([0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])); // Close 1000 (zero mask)
  }
  await sleep(0.05);
  for (const c of all) c.socket.destroy();
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(result.errors > 0 ? 1 : 0);
}

main().catch((e) => fail(e?.stack ?? e));
