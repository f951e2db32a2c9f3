import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { CloseEvent } from "../../src/web/events.js";
import { WebSocket } from "../../src/web/websocket.js";
import { HOST, portOf, selfSignedCert, shutDown, within } from "../server/helpers.js";
import { skipUnlessAvailable } from "../support/require.js";

// A real RFC 8441 peer in the middle: HAProxy (Debian's 2.6) with an h2 frontend (ALPN h2, extended CONNECT
// announced) in front of an HTTP/1.1 WebSocket backend, and an HTTP/1.1 frontend in front of our h2c server
// (`proto h2`: HAProxy turns the upgrade into an extended CONNECT).

const HAPROXY = "/usr/sbin/haproxy";
const skip = skipUnlessAvailable(
  existsSync(HAPROXY),
  `${HAPROXY} is missing (apt-get install haproxy)`,
  "SOCKJET_REQUIRE_HAPROXY",
);
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A port the OS just gave out (HAProxy cannot report a port-0 bind): listened on, then freed. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const port = portOf(server.address());
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${log()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, HOST, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`haproxy did not listen on ${port}: ${log()}`);
}

async function echoThrough(
  url: string,
  options: ConstructorParameters<typeof WebSocket>[2],
): Promise<string> {
  const socket = new WebSocket(url, [], options);
  cleanups.push(() => socket.terminate());
  await within(
    new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onclose = (event) => reject(new Error(`closed ${event.code}`));
    }),
    5000,
    `open of ${url}`,
  );
  const echoed = new Promise<string>((resolve) => {
    socket.onmessage = (event) => resolve(String(event.data));
  });
  socket.send("through haproxy");
  const data = await within(echoed, 5000, "the echo");
  const closed = new Promise<CloseEvent>((resolve) => {
    socket.onclose = resolve;
  });
  socket.close(1000, "done");
  const event = await within(closed, 5000, "the close");
  return `${data} ${event.code} ${event.wasClean}`;
}

test("HAProxy: our client over h2 to an HTTP/1.1 backend; an HTTP/1.1 client to our h2c server behind `proto h2`", {
  skip,
  timeout: 60_000,
}, async (t) => {
  const cert = await selfSignedCert();
  if (cert === null) return t.skip("openssl is not installed");
  const versions: string[] = [];
  const onConnection = (
    ws: import("../../src/web/websocket.js").WebSocket,
    request: { httpVersion: string },
  ) => {
    versions.push(request.httpVersion);
    ws.onmessage = (event) => ws.send(`echo:${event.data}`);
  };
  const h1Backend = new WebSocketServer({ port: 0, host: HOST });
  const h2Backend = new WebSocketServer({ port: 0, host: HOST, http2: true });
  const listening = [h1Backend, h2Backend].map((server) => {
    cleanups.push(() => shutDown(server));
    server.on("connection", onConnection);
    return new Promise((resolve) => server.once("listening", resolve));
  });
  await Promise.all(listening);
  const dir = await mkdtemp(join(tmpdir(), "sockjet-haproxy-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, "site.pem"), `${cert.cert}\n${cert.key}\n`);
  const h2Front = await freePort();
  const h1Front = await freePort();
  const config = `global
  maxconn 100
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout tunnel 30s
frontend h2_front
  bind ${HOST}:${h2Front} ssl crt ${join(dir, "site.pem")} alpn h2,http/1.1
  default_backend to_http1
backend to_http1
  server s1 ${HOST}:${portOf(h1Backend.address())}
frontend h1_front
  bind ${HOST}:${h1Front}
  default_backend to_h2c
backend to_h2c
  server s2 ${HOST}:${portOf(h2Backend.address())} proto h2
`;
  await writeFile(join(dir, "haproxy.cfg"), config);
  const child = spawn(HAPROXY, ["-db", "-f", join(dir, "haproxy.cfg")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  );
  await waitForPort(h2Front, child, () => output);
  await waitForPort(h1Front, child, () => output);

  assert.equal(
    await echoThrough(`wss://${HOST}:${h2Front}/a`, { ca: cert.cert, http2: "always" }),
    "echo:through haproxy 1000 true",
  );
  assert.deepEqual(versions, ["1.1"], "HAProxy carried our h2 stream to the HTTP/1.1 backend");
  assert.equal(
    await echoThrough(`ws://${HOST}:${h1Front}/b`, { http2: "never" }),
    "echo:through haproxy 1000 true",
  );
  assert.deepEqual(versions, ["1.1", "2.0"], "HAProxy turned the upgrade into an extended CONNECT");
});
