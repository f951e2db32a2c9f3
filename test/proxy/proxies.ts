// Real proxies for the proxy tests, started per test on 127.0.0.1 and stopped in t.after: tinyproxy (HTTP
// CONNECT, optionally with BasicAuth), danted (dante-server, SOCKS5 without authentication), a TLS front (a
// node:tls server piping each connection into tinyproxy: an HTTPS proxy), and a small SOCKS5 server of our own
// for username/password (RFC 1929): dante checks those against system accounts, which a test cannot create.
// tinyproxy and danted take their port from a config file, so the port is one the OS chose for a probe socket
// that was closed just before (a start that loses that race is retried).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import tls from "node:tls";
import { skipUnlessAvailable } from "../support/require.js";

export const TINYPROXY = "/usr/bin/tinyproxy";
export const DANTED = "/usr/sbin/danted";

/** Why the tests that start `binary` cannot run here, or false when they can. */
export function proxySkip(binary: string, debianPackage: string): string | false {
  return skipUnlessAvailable(
    existsSync(binary),
    `${binary} is missing: install it (apt-get install -y ${debianPackage}) to run the proxy tests; .ci/run does`,
    "SOCKJET_REQUIRE_PROXIES",
  );
}

/** The version line of a proxy binary, for the test log. */
export function versionOf(binary: string): string {
  const probe = spawnSync(binary, ["-v"], { encoding: "utf8", timeout: 5000 });
  return `${probe.stdout}${probe.stderr}`.split("\n")[0].trim();
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Resolves once something accepts TCP connections on the port; rejects if `child` exits or after `ms`. */
async function untilListening(
  port: number,
  child: ChildProcess,
  ms: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the proxy exited before listening on ${port}:\n${output()}`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline)
      throw new Error(`the proxy did not listen on ${port} within ${ms} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts `binary` with the config `makeConfig(port)` writes, on a free port; stopped when the test ends. */
async function startDaemon(
  t: TestContext,
  binary: string,
  args: (configFile: string) => string[],
  makeConfig: (port: number) => string,
): Promise<{ port: number; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), "sockjet-proxy-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let lastError: unknown = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const configFile = join(dir, `proxy-${attempt}.conf`);
    writeFileSync(configFile, makeConfig(port));
    // Its own process group, so that stopping it also stops the children danted forks.
    const child = spawn(binary, args(configFile), { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, "SIGTERM");
        } catch {}
        const timer = setTimeout(() => {
          try {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
          } catch {}
        }, 3000);
        await exited;
        clearTimeout(timer);
      }
    };
    try {
      await untilListening(port, child, 10_000, () => output);
      t.after(stop);
      return { port, output: () => output };
    } catch (error) {
      lastError = error;
      await stop();
    }
  }
  throw lastError;
}

/** tinyproxy allowing CONNECT to `connectPorts` only, with `BasicAuth user password` when given. */
export async function startTinyproxy(
  t: TestContext,
  options: { connectPorts: number[]; basicAuth?: { user: string; password: string } },
): Promise<{ port: number; url: string; output: () => string }> {
  const started = await startDaemon(
    t,
    TINYPROXY,
    (configFile) => ["-d", "-c", configFile],
    (port) =>
      [
        `Port ${port}`,
        "Listen 127.0.0.1",
        "Timeout 30",
        "LogLevel Info",
        "MaxClients 20",
        "Allow 127.0.0.1",
        "DisableViaHeader Yes",
        ...options.connectPorts.map((allowed) => `ConnectPort ${allowed}`),
        ...(options.basicAuth ? [`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`] : []),
        "",
      ].join("\n"),
  );
  return { ...started, url: `http://127.0.0.1:${started.port}` };
}

/** danted (SOCKS5, no authentication) letting 127.0.0.0/8 CONNECT anywhere but to `blockedPort`. */
export async function startDanted(
  t: TestContext,
  options: { blockedPort?: number } = {},
): Promise<{ port: number; url: string; output: () => string }> {
  const root = process.getuid?.() === 0;
  const started = await startDaemon(
    t,
    DANTED,
    (configFile) => ["-f", configFile, "-N", "1"],
    (port) =>
      [
        "logoutput: stderr",
        `internal: 127.0.0.1 port = ${port}`,
        "external: 127.0.0.1",
        "clientmethod: none",
        "socksmethod: none",
        ...(root ? ["user.privileged: root", "user.unprivileged: nobody"] : []),
        "client pass {",
        "  from: 127.0.0.0/8 to: 0.0.0.0/0",
        "}",
        ...(options.blockedPort === undefined
          ? []
          : ["socks block {", `  from: 0.0.0.0/0 to: 0.0.0.0/0 port = ${options.blockedPort}`, "}"]),
        "socks pass {",
        "  from: 127.0.0.0/8 to: 0.0.0.0/0",
        "  command: connect",
        "}",
        "",
      ].join("\n"),
  );
  return { ...started, url: `socks5://127.0.0.1:${started.port}` };
}

/** A TLS server that pipes every connection into 127.0.0.1:`upstreamPort`: TLS in front of an HTTP proxy. */
export async function startTlsFront(
  t: TestContext,
  upstreamPort: number,
  certificate: { key: string; cert: string },
): Promise<{ port: number }> {
  const sockets = new Set<net.Socket>();
  const server = tls.createServer({ key: certificate.key, cert: certificate.cert }, (client) => {
    const upstream = net.connect(upstreamPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port };
}

/** What our SOCKS5 server saw of one CONNECT request. */
export interface SocksRequest {
  atyp: number;
  host: string;
  port: number;
}

/**
 * A SOCKS5 server (RFC 1928) that requires username/password (RFC 1929) and connects to 127.0.0.1 whatever
 * the requested host (the request is recorded, so a test can check what the client sent).
 */
export async function startSocks5WithPassword(
  t: TestContext,
  credentials: { username: string; password: string },
): Promise<{ port: number; requests: SocksRequest[]; authAttempts: string[] }> {
  const requests: SocksRequest[] = [];
  const authAttempts: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("error", () => client.destroy());
    let buffered = Buffer.alloc(0);
    let step: "greeting" | "auth" | "request" | "piping" = "greeting";
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (step === "greeting") {
        if (buffered.length < 2 || buffered.length < 2 + buffered[1]) return;
        const methods = [...buffered.subarray(2, 2 + buffered[1])];
        buffered = buffered.subarray(2 + buffered[1]);
        if (!methods.includes(0x02)) {
          client.end(Buffer.from([0x05, 0xff]));
          return;
        }
        client.write(Buffer.from([0x05, 0x02]));
        step = "auth";
      }
      if (step === "auth") {
        if (buffered.length < 2) return;
        const ulen = buffered[1];
        if (buffered.length < 3 + ulen) return;
        const plen = buffered[2 + ulen];
        if (buffered.length < 3 + ulen + plen) return;
        const username = buffered.subarray(2, 2 + ulen).toString("utf8");
        const password = buffered.subarray(3 + ulen, 3 + ulen + plen).toString("utf8");
        buffered = buffered.subarray(3 + ulen + plen);
        authAttempts.push(username);
        if (username !== credentials.username || password !== credentials.password) {
          client.end(Buffer.from([0x01, 0x01]));
          return;
        }
        client.write(Buffer.from([0x01, 0x00]));
        step = "request";
      }
      if (step === "request") {
        if (buffered.length < 5) return;
        const atyp = buffered[3];
        const addressLength = atyp === 0x01 ? 4 : atyp === 0x04 ? 16 : 1 + buffered[4];
        if (buffered.length < 4 + addressLength + 2) return;
        const address = buffered.subarray(4, 4 + addressLength);
        const host = atyp === 0x03 ? address.subarray(1).toString("utf8") : [...address].join(".");
        const port = buffered.readUInt16BE(4 + addressLength);
        buffered = buffered.subarray(4 + addressLength + 2);
        requests.push({ atyp, host, port });
        step = "piping";
        client.removeListener("data", onData);
        const upstream = net.connect(port, "127.0.0.1");
        sockets.add(upstream);
        upstream.once("connect", () => {
          client.write(Buffer.from([0x05, 0x00, 0x00, 0x01, 127, 0, 0, 1, port >> 8, port & 0xff]));
          if (buffered.length > 0) upstream.write(buffered);
          client.pipe(upstream).pipe(client);
        });
        upstream.once("error", () => client.end(Buffer.from([0x05, 0x05, 0x00, 0x01, 0, 0, 0, 0, 0, 0])));
        upstream.on("close", () => client.destroy());
        client.on("close", () => upstream.destroy());
      }
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as AddressInfo).port, requests, authAttempts };
}
