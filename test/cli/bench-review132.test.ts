import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, test } from "node:test";
import { Cli, killAll, run, serve } from "./helpers.js";

// `sockjet bench`, from a newcomer's review (132): why it cannot connect is the HandshakeError's own word
// when it has one (a blocked port is not probed).

after(killAll);

/** Listens on the first free port of Fetch's "bad port" list that a test may take; null if none is free. */
async function listenOnBadPort(onConnection: () => void): Promise<net.Server | null> {
  for (const port of [6666, 6665, 6667, 6668, 6669, 6679, 10080]) {
    const server = net.createServer((socket) => {
      onConnection();
      socket.destroy();
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (listening) return server;
  }
  return null;
}

describe("sockjet bench: a blocked port", () => {
  test("says the port is blocked, as connect does, and does not probe it", async (t) => {
    let probes = 0;
    const server = await listenOnBadPort(() => probes++);
    if (server !== null) t.after(() => new Promise((resolve) => server.close(resolve)));
    const port = server === null ? 6666 : (server.address() as net.AddressInfo).port;
    const result = await run(["bench", "-c", "2", "-d", "0.2", `ws://127.0.0.1:${port}/`]);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      `sockjet bench: error: cannot connect to ws://127.0.0.1:${port}/: port ${port} is blocked, as in browsers ` +
        `(Fetch "bad port": it belongs to another protocol)\n`,
    );
    assert.equal(probes, 0, "no connection to the blocked port");
  });
});

describe("durations past Node's longest timer (2^31-1 ms)", () => {
  test("bench -d 3000000 is a usage error naming the largest value, not a 0 s run", async () => {
    const result = await run(["bench", "-d", "3000000", "ws://127.0.0.1:2/"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /^sockjet bench: invalid value for -d: "3000000" \(expected seconds > 0 and at most 2147483\.647, 24\.8 days\)\n/,
    );
    assert.doesNotMatch(result.stderr, /TimeoutOverflowWarning/);
  });

  test("bench -d 2147483.647 is taken (the connection is refused, exit 1)", async () => {
    const result = await run(["bench", "-d", "2147483.647", "ws://127.0.0.1:2/"]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /connection refused/);
  });

  test("connect --wait 3000000000 is a usage error naming the largest value", async () => {
    const result = await run(["connect", "--wait", "3000000000", "ws://127.0.0.1:2/"]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(
      result.stderr,
      /^sockjet connect: invalid value for --wait: "3000000000" \(expected milliseconds up to 2147483647, or 'forever'\)\n/,
    );
  });
});

describe("sockjet bench: SIGINT and SIGTERM", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`${signal} ends the run early: connections closed with 1000, the results so far printed`, async () => {
      const served = await serve();
      try {
        const cli = new Cli([
          "bench",
          "--json",
          "-c",
          "2",
          "-i",
          "1",
          "-d",
          "60",
          `${served.ws}/?case=${signal}`,
        ]);
        // Both connections open (serve logs each), then a moment of round trips.
        await served.cli.waitFor(new RegExp(`(open .*case=${signal}[^\\n]*\\n[^]*){2}`), {
          timeoutMs: 15_000,
        });
        await new Promise((resolve) => setTimeout(resolve, 500));
        cli.kill(signal);
        const exit = await cli.exit(10_000);
        assert.deepEqual(exit, { code: 0, signal: null }, cli.transcript());
        const result = JSON.parse(cli.stdout) as {
          messages: number;
          durationSeconds: number;
          errors: number;
        };
        assert.ok(result.messages > 0, cli.stdout);
        assert.equal(result.errors, 0, cli.stdout);
        assert.ok(result.durationSeconds < 30, cli.stdout);
        assert.match(
          cli.stderr,
          new RegExp(`^sockjet bench: stopped by ${signal} after \\d+\\.\\d s of 60 s\\n$`),
        );
        await served.cli.waitFor(
          new RegExp(`(close {2}127\\.0\\.0\\.1 {2}/\\?case=${signal} {2}1000\\b[^]*){2}`),
        );
      } finally {
        served.cli.kill("SIGTERM");
        await served.cli.exit();
      }
    });
  }

  test("a signal while the connections are still opening stops at once: exit 130, no results", async (t) => {
    // A server that takes the connections and never answers the handshake.
    const taken = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      taken.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    t.after(() => {
      for (const socket of taken) socket.destroy();
      return new Promise((resolve) => silent.close(resolve));
    });
    const port = (silent.address() as net.AddressInfo).port;
    const cli = new Cli(["bench", "-c", "2", "-d", "60", `ws://127.0.0.1:${port}/`]);
    for (let i = 0; i < 100 && taken.size < 2; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(taken.size, 2);
    cli.kill("SIGINT");
    const exit = await cli.exit(5000);
    assert.deepEqual(exit, { code: 130, signal: null }, cli.transcript());
    assert.equal(cli.stdout, "");
    assert.equal(cli.stderr, "sockjet bench: stopped by SIGINT before the run started: no results\n");
  });
});
