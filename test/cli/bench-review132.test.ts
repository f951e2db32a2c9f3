import assert from "node:assert/strict";
import net from "node:net";
import { after, describe, test } from "node:test";
import { killAll, run } from "./helpers.js";

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
