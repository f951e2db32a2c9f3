// One WebSocket client, one connection, against an echo server: the measured process of the client benchmark
// (bench/client.ts starts it pinned to one CPU, with the server pinned to the other).
//
//   node bench/clients/echo-client.mjs '{"client":"sockjet","url":"ws://127.0.0.1:PORT/","size":32,
//                                        "window":16,"duration":3,"warmup":1,"serverPid":123,"latency":false}'
//
// Clients: "sockjet" (the built package, dist/index.js: binaryType "nodebuffer" — Buffers, as ws hands them —,
// perMessageDeflate false), "sockjet-ab" (the same with binaryType "arraybuffer", the browser's type),
// "ws" (npm ws with bufferutil, perMessageDeflate false, Buffer messages) and "undici" (undici's WHATWG
// WebSocket, binaryType "arraybuffer"). Plain JavaScript, run by plain node: no transform in the measured process.
//
// It keeps `window` binary messages of `size` bytes in flight (a new one is sent as each echo arrives), runs
// `warmup` seconds, then counts the echoes completed in `duration` seconds. During the warm-up every echo is
// checked byte for byte and for order (four different payloads in rotation); in the measured window only its
// length is checked, so that the check costs every client the same. With "latency", the round trip of every
// message in the measured window is recorded (from send() to its echo's message event).
//
// Output: one line `RESULT {json}` on stdout: msgsPerS, p50Us/p99Us/maxUs (latency runs), clientCpu (this
// process, % of one CPU), serverCpu (the server's /proc/PID/stat, -1 if unknown) and otherCpu (machine busy time
// from /proc/stat minus both: the noisy-neighbour check), errors. Exit status 0, or 1 on any error.
import { cpuWindow, percentile, untilCalled } from "./common.mjs";

const o = JSON.parse(process.argv[2] ?? "{}");
const { client, url, size, window, duration, warmup } = o;
const latency = o.latency === true;
const serverPid = Number(o.serverPid ?? 0);

function fail(message) {
  process.stdout.write(`RESULT ${JSON.stringify({ client, errors: 1, error: String(message) })}\n`);
  process.exit(1);
}

process.on("uncaughtException", (error) => fail(error?.stack ?? error));
process.on("unhandledRejection", (error) => fail(error?.stack ?? error));
const hardStop = setTimeout(() => fail("timed out"), (warmup + duration + 60) * 1000);
hardStop.unref();

// ---- payloads ---------------------------------------------------------------------------------------------

const PAYLOADS = 4;
const payloads = [];
for (let k = 0; k < PAYLOADS; k++) {
  const p = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) p[i] = (i * 31 + k * 7 + (i >> 8)) & 0xff;
  if (size > 0) p[0] = k;
  payloads.push(p);
}

// ---- the run ----------------------------------------------------------------------------------------------

let socket;
let send;
let sent = 0;
let received = 0;
let verifying = true;
let sending = true;
let measuring = false;
let errors = 0;
let done = false;
let firstError = "";
const sendTimes = new Float64Array(window);
const SAMPLE_CAP = 1 << 21;
const samples = latency ? new Float64Array(SAMPLE_CAP) : null;
let nSamples = 0;
let maxUs = 0;
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

function sendOne() {
  const payload = payloads[sent % PAYLOADS];
  if (latency) sendTimes[sent % window] = performance.now();
  sent++;
  send(payload);
}

function verify(bytes) {
  const expected = payloads[received % PAYLOADS];
  if (!expected.equals(bytes))
    error(`echo ${received} differs from the message sent (lost, reordered or altered)`);
}

/** Called for every echo, after its length was checked; `bytes` only while verifying. */
function echoed() {
  if (latency && measuring) {
    const us = (performance.now() - sendTimes[received % window]) * 1000;
    if (us > maxUs) maxUs = us;
    if (nSamples < SAMPLE_CAP) samples[nSamples++] = us;
  }
  received++;
  if (sending) sendOne();
  else if (received === sent && onDrained) onDrained();
}

async function open() {
  if (client === "sockjet" || client === "sockjet-ab") {
    const { WebSocket } = await import("../../dist/index.js");
    const ws = new WebSocket(url, undefined, { perMessageDeflate: false });
    ws.binaryType = client === "sockjet" ? "nodebuffer" : "arraybuffer";
    ws.onmessage = (event) => {
      const data = event.data;
      if (typeof data === "string" || data.byteLength !== size) error("echo of the wrong type or length");
      else if (verifying) verify(Buffer.isBuffer(data) ? data : Buffer.from(data));
      echoed();
    };
    send = (payload) => ws.send(payload);
    await whatwgOpen(ws);
    return ws;
  }
  if (client === "undici") {
    const { WebSocket } = await import("undici");
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => {
      const data = event.data;
      if (typeof data === "string" || data.byteLength !== size) error("echo of the wrong type or length");
      else if (verifying) verify(Buffer.from(data));
      echoed();
    };
    send = (payload) => ws.send(payload);
    await whatwgOpen(ws);
    return ws;
  }
  if (client === "ws") {
    const { default: WebSocket } = await import("ws");
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.on("message", (data, isBinary) => {
      if (!isBinary || data.length !== size) error("echo of the wrong type or length");
      else if (verifying) verify(data);
      echoed();
    });
    send = (payload) => ws.send(payload);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    ws.on("error", (e) => error(`error event: ${e.message}`));
    ws.on("close", (code) => {
      if (sending) error(`closed early (${code})`);
    });
    return ws;
  }
  throw new Error(`unknown client '${client}'`);
}

function whatwgOpen(ws) {
  return new Promise((resolve, reject) => {
    ws.onopen = () => {
      ws.onerror = () => error("error event");
      ws.onclose = (event) => {
        if (sending) error(`closed early (${event.code})`);
      };
      resolve();
    };
    ws.onerror = () => reject(new Error(`could not connect to ${url}`));
  });
}

const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000));

async function main() {
  socket = await open();
  for (let i = 0; i < window; i++) sendOne();
  await sleep(warmup);
  // the measured window
  verifying = false;
  const r0 = received;
  const endWindow = cpuWindow(serverPid);
  measuring = true;
  await sleep(duration);
  measuring = false;
  const cpu = endWindow();
  const msgs = received - r0;
  // drain: every message sent must come back
  sending = false;
  if (received < sent) {
    await untilCalled((done) => {
      onDrained = done;
    });
  }
  if (received !== sent) error(`${sent - received} echo(es) missing at the end`);
  let p50Us = Number.NaN;
  let p99Us = Number.NaN;
  if (samples && nSamples > 0) {
    const sorted = samples.subarray(0, nSamples).sort();
    p50Us = percentile(sorted, 50);
    p99Us = percentile(sorted, 99);
  }
  const result = {
    client,
    size,
    window,
    latency,
    msgs,
    msgsPerS: msgs / cpu.secs,
    p50Us,
    p99Us,
    maxUs: latency ? maxUs : Number.NaN,
    ...cpu,
    errors,
    error: firstError || undefined,
  };
  done = true;
  // close (bounded): the run is over either way
  await new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    if (client === "ws") socket.once("close", () => resolve(clearTimeout(timer)));
    else socket.onclose = () => resolve(clearTimeout(timer));
    socket.close(1000);
  });
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(result.errors > 0 ? 1 : 0);
}

main().catch((e) => fail(e?.stack ?? e));
