// The load for the h2 part of `npm run bench` (bench/h2.ts): sockjet's own client (the built package) against a
// sockjet WebSocketServer with `http2: true` + TLS, over one HTTP/2 session (RFC 8441, `http2: "always"`: all
// sockets are streams of the pool's one session to the origin) or over HTTP/1.1 + TLS (`http2: "never"`: one
// TLS connection per socket).
//
//   node bench/clients/h2-driver.mjs '{"url":"wss://127.0.0.1:PORT/","ca":"-----BEGIN…","http2":"always",
//        "task":"echo","conns":16,"window":16,"size":1024,"duration":3,"warmup":1,"serverPid":123}'
//   … "task":"idle","conns":1000 …
//
// - echo: every socket keeps `window` binary messages of `size` bytes in flight; each echo must come back with
//   the length sent, in order (the first byte carries a per-socket sequence number, checked). Output:
//   `RESULT {json}` like bench/clients/echo-client.mjs (msgs, msgsPerS, clientCpu, serverCpu, otherCpu).
// - idle: 50 sockets are opened and closed first (so that code loaded by the first socket is not charged), then
//   the server's RSS is read (/proc) before and 1 s after `conns` sockets are open. Output: `RESULT` with
//   beforeKiB, afterKiB, open and perSocketKiB.
// Exit 0, or 1 on error (with `error` in the RESULT).
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { cpuWindow } from "./common.mjs";

const o = JSON.parse(process.argv[2] ?? "{}");
const { url, ca, http2, task, conns, window, size, duration, warmup } = o;
const serverPid = Number(o.serverPid ?? 0);

function fail(message) {
  process.stdout.write(
    `RESULT ${JSON.stringify({ client: "h2-driver", errors: 1, error: String(message) })}\n`,
  );
  process.exit(1);
}
process.on("uncaughtException", (error) => fail(error?.stack ?? error));
process.on("unhandledRejection", (error) => fail(error?.stack ?? error));
setTimeout(() => fail("timed out"), ((warmup ?? 0) + (duration ?? 0) + 90) * 1000).unref();

const { WebSocket } = await import("../../dist/index.js");

function open() {
  const socket = new WebSocket(url, [], { ca, http2, perMessageDeflate: false });
  socket.binaryType = "nodebuffer";
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error(`a socket failed to open (http2: ${http2})`));
  });
}

/** opens `n` sockets, 50 at a time (a burst of thousands of TLS handshakes only measures the handshakes) */
async function openMany(n) {
  const sockets = [];
  for (let i = 0; i < n; i += 50) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, n - i) }, open))));
  }
  return sockets;
}

function closeAll(sockets) {
  return Promise.all(
    sockets.map(
      (socket) =>
        new Promise((resolve) => {
          if (socket.readyState === WebSocket.CLOSED) return resolve();
          socket.onclose = resolve;
          socket.close();
        }),
    ),
  );
}

function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

async function idle() {
  await closeAll(await openMany(50));
  await sleep(1000);
  const beforeKiB = rssKiB(serverPid);
  const sockets = await openMany(conns);
  await sleep(1000);
  const afterKiB = rssKiB(serverPid);
  const stillOpen = sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
  await closeAll(sockets);
  if (stillOpen !== conns) fail(`only ${stillOpen} of ${conns} sockets stayed open`);
  return { beforeKiB, afterKiB, open: stillOpen, perSocketKiB: (afterKiB - beforeKiB) / conns };
}

async function echo() {
  const sockets = await openMany(conns);
  let measuring = false;
  let sending = true;
  let received = 0;
  let inFlight = 0;
  let onDrained = null;
  for (const socket of sockets) {
    let sent = 0;
    let expected = 0;
    const payload = Buffer.alloc(size, 0x61);
    const send = () => {
      payload[0] = sent++ & 0xff;
      inFlight++;
      socket.send(payload);
    };
    socket.onmessage = (event) => {
      const data = event.data;
      if (!Buffer.isBuffer(data) || data.length !== size)
        fail(`wrong echo: ${data?.length} bytes, not ${size}`);
      if (size > 0 && data[0] !== (expected & 0xff))
        fail(`echo out of order: ${data[0]} for ${expected & 0xff}`);
      expected++;
      inFlight--;
      if (measuring) received++;
      if (sending) send();
      else if (inFlight === 0) onDrained?.();
    };
    socket.onclose = (event) => {
      if (sending) fail(`a socket closed during the run: ${event.code} ${event.reason}`);
    };
    for (let i = 0; i < window; i++) send();
  }
  await sleep(warmup * 1000);
  measuring = true;
  const end = cpuWindow(serverPid);
  await sleep(duration * 1000);
  measuring = false;
  const cpu = end();
  const msgs = received;
  sending = false;
  if (inFlight > 0) await new Promise((resolve) => (onDrained = resolve));
  await closeAll(sockets);
  return {
    msgs,
    msgsPerS: msgs / cpu.secs,
    clientCpu: cpu.clientCpu,
    serverCpu: cpu.serverCpu,
    otherCpu: cpu.otherCpu,
  };
}

const result = task === "idle" ? await idle() : await echo();
process.stdout.write(`RESULT ${JSON.stringify({ client: "h2-driver", http2, errors: 0, ...result })}\n`);
process.exit(0);
