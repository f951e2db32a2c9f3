// What an idle WebSocket costs the server over HTTP/2 (RFC 8441, all sockets on one session) and over
// HTTP/1.1 + TLS (one connection each): the server (the built package) runs in a child process with
// --expose-gc; N sockets are opened with our client (`http2: "always"`, then "never"), and the server's heap and
// RSS are read after three GCs, before and with the sockets open. Self-signed certificate made with openssl.
//
//   npm run build && node bench/micro/h2-idle-memory.mjs [sockets=500]
import { execFileSync, fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const N = Number(process.argv[2] ?? 500);

if (process.argv[2] === "--server") {
  const { WebSocketServer } = await import("../../dist/index.js");
  const tls = JSON.parse(process.argv[3]);
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", http2: true, tls, maxConnections: 1e6 });
  wss.on("listening", () => process.send({ port: wss.address().port }));
  process.on("message", (message) => {
    if (message !== "measure") return;
    for (let i = 0; i < 3; i++) global.gc();
    const usage = process.memoryUsage();
    process.send({ heap: usage.heapUsed, rss: usage.rss, sockets: wss.clients.size });
  });
} else {
  const { WebSocket } = await import("../../dist/index.js");
  const dir = mkdtempSync(join(tmpdir(), "sockjet-h2-memory-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  const tls = {
    key: readFileSync(join(dir, "key.pem"), "utf8"),
    cert: readFileSync(join(dir, "cert.pem"), "utf8"),
  };
  rmSync(dir, { recursive: true, force: true });
  const server = fork(new URL(import.meta.url).pathname, ["--server", JSON.stringify(tls)], {
    execArgv: ["--expose-gc"],
  });
  const next = () => new Promise((resolve) => server.once("message", resolve));
  const { port } = await next();
  const measure = () => {
    server.send("measure");
    return next();
  };
  const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const result = { sockets: N };
  for (const mode of ["always", "never"]) {
    await settle(500);
    const before = await measure();
    const sockets = [];
    for (let i = 0; i < N; i += 50) {
      const batch = Array.from({ length: Math.min(50, N - i) }, () => {
        const socket = new WebSocket(`wss://127.0.0.1:${port}/`, [], {
          ca: tls.cert,
          http2: mode,
          perMessageDeflate: false,
        });
        sockets.push(socket);
        return new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = () => reject(new Error("a socket failed to open"));
        });
      });
      await Promise.all(batch);
    }
    await settle(500);
    const open = await measure();
    result[mode === "always" ? "http2" : "http1+tls"] = {
      open: open.sockets,
      heapBytesPerSocket: Math.round((open.heap - before.heap) / N),
      rssBytesPerSocket: Math.round((open.rss - before.rss) / N),
    };
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise((resolve) => {
            socket.onclose = resolve;
            socket.close();
          }),
      ),
    );
  }
  console.log(JSON.stringify(result));
  server.kill();
}
