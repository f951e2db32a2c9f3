// A replay of several topics is read as it is written, a little ahead: a topic's reading must not stand
// still while another topic's long replay is written, or its store, turning over with live traffic, trims
// what it had still to read (found by review: a steady 2 MB/s reader of a session with a large-message topic
// and a busy small-message topic got 1013 and then `gap`). Real sockets, through a relay that reads slowly.

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { describe, test } from "node:test";
import { controls, HOST, rawResume, type startServer, until, within } from "./helpers.js";
import { feedSession } from "./shared-store.js";

/** A relay that passes the server's bytes on at `bytesPerSecond`. */
async function slowRelay(t: Parameters<typeof startServer>[0], target: string, bytesPerSecond: number) {
  const url = new URL(target);
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(url.port), url.hostname);
    for (const socket of [client, upstream]) socket.on("error", () => {});
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      client.write(chunk);
      upstream.pause();
      setTimeout(() => upstream.resume(), (chunk.length / bytesPerSecond) * 1000);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    t.after(() => upstream.destroy());
  });
  server.listen(0, HOST);
  await once(server, "listening");
  t.after(() => server.close());
  return `ws://${HOST}:${(server.address() as net.AddressInfo).port}`;
}

describe("a replay of several topics", () => {
  test("a busy topic's replay survives a long replay of another topic written first", async (t) => {
    const { started, token, end } = await feedSession(t, undefined, ["big", "busy"]);
    await end();
    // The memory store keeps 1,000 per topic: "busy" has missed 900, and turns over 200/s: its first
    // message is trimmed 0.5 s into the resume, and "big" takes ~4 s to write at 2 MB/s.
    const payload = "x".repeat(8 * 1024);
    for (let i = 0; i < 1000; i++) started.server.publish("big", `b${i} ${payload}`);
    let next = 0;
    for (; next < 900; next++) started.server.publish("busy", `q${next}`);
    const live = setInterval(() => {
      for (let k = 0; k < 4; k++) started.server.publish("busy", `q${next++}`);
    }, 20);
    t.after(() => clearInterval(live));
    const relay = await slowRelay(t, started.url, 2 * 1024 * 1024);
    const resumed = await rawResume(relay, { type: "resume", token, positions: {} });
    const outcome = await Promise.race([
      resumed.closed.then((event) => `closed ${event.code} ${event.reason}`),
      until(() => controls(resumed.messages).some((c) => c.type === "resumed"), 60_000, "the replay").then(
        () => "resumed",
      ),
    ]);
    clearInterval(live);
    assert.equal(outcome, "resumed");
    // Every busy message in order, from its first: the replay, then the live ones held meanwhile.
    const busy = resumed.messages
      .map(String)
      .filter((text) => text.charCodeAt(0) === 1)
      .map((text) => text.slice(text.indexOf("\n") + 1))
      .filter((text) => text.startsWith("q"));
    assert.deepEqual(
      busy.slice(0, 900),
      Array.from({ length: 900 }, (_, i) => `q${i}`),
    );
    resumed.socket.close();
    await within(resumed.closed, 5000, "the close");
  });
});
