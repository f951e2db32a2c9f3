import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, test } from "node:test";
import tls from "node:tls";
import { WebSocket } from "../../src/index.js";
import { killAll, serve } from "./helpers.js";

// Slowloris against `sockjet serve` (issue 14 item 5): sockets that trickle a request head one byte at a
// time, or send nothing at all, over HTTP and over HTTPS, are closed by the server within ~1.5 × its
// handshake timeout. The bound checked is 4 × the timeout, measured from our 'connect' event: this process
// runs 200 TLS handshakes and trickles, and on a loaded machine it sees the closes late (a review measured
// 5.8–7.5 s with three copies of this file beside three busy loops, for a 2 s timeout). Without the fix they
// stay open for Node's 60 s headersTimeout (silent ones: forever), far past it.

const CERT = "test/cli/fixtures/cert.pem";
const KEY = "test/cli/fixtures/key.pem";
const TIMEOUT_MS = 2000;
const SOCKETS = 200;
const TRICKLE_EVERY_MS = 100;

after(killAll);

/** How long a socket stayed open, measured two ways that bracket the server's own clock. */
interface Lifetime {
  /** From our 'connect' event (after the server accepted): never longer than the server's, but for our lag. */
  sinceConnect: number;
  /** From before connect() was called: never shorter than the server's, however late our events run. */
  sinceDial: number;
}

/**
 * Opens `count` sockets (every fourth one silent, the others trickling a head that never ends) and resolves
 * with how long each stayed open; a socket still open after `giveUpMs` counts as that.
 */
function trickle(port: number, secure: boolean, count: number, giveUpMs: number): Promise<Lifetime[]> {
  const head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  const lifetimes: Promise<Lifetime>[] = [];
  for (let i = 0; i < count; i++) {
    lifetimes.push(
      new Promise((resolve) => {
        const dialledAt = Date.now();
        const silent = i % 4 === 0;
        const socket = secure
          ? tls.connect({ port, host: "127.0.0.1", rejectUnauthorized: false })
          : net.connect(port, "127.0.0.1");
        // The server's clocks start when it accepts the TCP connection (before a TLS handshake).
        let connectedAt = Date.now();
        socket.once("connect", () => (connectedAt = Date.now()));
        let sent = 0;
        let timer: NodeJS.Timeout | undefined;
        socket.on(secure ? "secureConnect" : "connect", () => {
          if (silent) return;
          timer = setInterval(() => {
            // The head repeats its last header's value forever: it never completes.
            socket.write(sent < head.length ? head[sent] : "a");
            sent++;
          }, TRICKLE_EVERY_MS);
        });
        // Read what the server sends: a silent socket is sometimes cut by node:http's head timeout with a 408
        // (not by the idle timeout, with nothing), and a 408 left unread holds back the socket's 'end' and
        // 'close', so a socket the server had closed on time counted as open until the give-up (CI, 11.9 s).
        socket.resume();
        const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
        socket.on("error", () => {});
        socket.on("close", () => {
          clearInterval(timer);
          clearTimeout(giveUp);
          const now = Date.now();
          resolve({ sinceConnect: now - connectedAt, sinceDial: now - dialledAt });
        });
      }),
    );
  }
  return Promise.all(lifetimes);
}

describe("sockjet serve: slowloris", () => {
  // With --workers the workers do not listen (the primary hands them the connections): node:http's head
  // timeouts, which start when a server emits 'listening', must hold there too.
  // The --workers case checks that the guard is on in the workers, with fewer sockets: three server
  // processes on a CI machine's two busy cores were too slow to meet the bound with 200 (one was cut at
  // 7.9 s, once in four runs).
  const cases = [
    { secure: false, workers: 1, sockets: SOCKETS },
    { secure: true, workers: 1, sockets: SOCKETS },
    { secure: false, workers: 2, sockets: SOCKETS / 4 },
  ];
  for (const { secure, workers, sockets } of cases) {
    const across = workers > 1 ? ` (--workers ${workers})` : "";
    test(`${secure ? "HTTPS" : "HTTP"}${across}: ${sockets} sockets trickling a head (or silent) are closed within the handshake timeout`, {
      timeout: 30_000,
    }, async () => {
      const tlsFlags = secure ? ["--tls-cert", CERT, "--tls-key", KEY] : [];
      const workerFlags = workers > 1 ? ["--workers", String(workers)] : [];
      const served = await serve([
        "--quiet",
        "--handshake-timeout",
        String(TIMEOUT_MS),
        ...tlsFlags,
        ...workerFlags,
      ]);
      const lifetimes = await trickle(served.port, secure, sockets, 6 * TIMEOUT_MS);
      const longest = Math.max(...lifetimes.map((lifetime) => lifetime.sinceConnect));
      assert.ok(longest < 4 * TIMEOUT_MS, `the longest one stayed open ${longest} ms`);
      // None was closed before its time either: the timeout is the head's, not an accident. Measured from
      // the dial: our 'connect' event can run later than the server's accept on a loaded machine (CI once saw
      // 1948 ms from it), which made a socket closed on time look early.
      const shortest = Math.min(...lifetimes.map((lifetime) => lifetime.sinceDial));
      assert.ok(shortest >= TIMEOUT_MS - 50, `the shortest one stayed open ${shortest} ms`);

      // A WebSocket that completed its handshake is not affected, however long it stays idle.
      const socket = new WebSocket(`${served.ws}/`, [], { rejectUnauthorized: false });
      await new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error("could not connect"));
      });
      await new Promise((resolve) => setTimeout(resolve, 2.5 * TIMEOUT_MS));
      const echoed = new Promise((resolve) => (socket.onmessage = (event) => resolve(event.data)));
      socket.send("still here");
      assert.equal(await echoed, "still here");
      socket.close();
      served.cli.kill("SIGTERM");
      assert.equal((await served.cli.exit()).code, 0, served.cli.transcript());
    });
  }
});
