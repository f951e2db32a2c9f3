// ResumableWebSocket's send() while disconnected waits, in order (docs/resume.md). After a resume it goes
// out only once the replay is over (`resumed`): a connection the server closes during its replay (1013, a
// replay past maxBufferedBytes) is never handed to the app, so what was sent on it would be lost; it waits
// for the next connection instead.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { resumeClient, startServer, until } from "./helpers.js";

describe("sends queued while disconnected, across a replay closed for its size", () => {
  test("reach the app once, in order, after the replay that completes", async (t) => {
    const started = await startServer(t, {
      resume: { maxMessagesPerTopic: 1000 },
      maxBufferedBytes: 16 * 1024,
    });
    const appGot: string[] = [];
    let current: import("../../src/web/websocket.js").WebSocket | null = null;
    started.server.on("connection", (socket) => {
      current = socket;
      if (!socket.resumed) socket.subscribe("t");
      socket.onmessage = (event) => appGot.push(String(event.data));
    });
    const client = resumeClient(t, started.url);
    const closeCodes: number[] = [];
    client.socket.addEventListener("disconnect", (event) => closeCodes.push((event as CloseEvent).code));
    await until(() => started.server.subscriberCount("t") === 1, 5000, "the subscription");
    current!.terminate();
    await until(() => client.events.includes("disconnect"), 5000, "the client disconnected");
    for (let i = 0; i < 3; i++) client.socket.send(`queued-${i}`);
    const payload = "y".repeat(1000);
    const missed = 200; // ~200 KB: more than one replay fits in maxBufferedBytes
    for (let i = 0; i < missed; i++) started.server.publish("t", `${i}:${payload}`);
    await until(
      () => client.received.filter((m) => m.startsWith("t:")).length >= missed,
      15_000,
      "the whole replay",
    );
    await until(() => appGot.length >= 3, 5000, "the queued sends");
    client.socket.send("after-resume");
    await until(() => appGot.length >= 4, 5000, "the send after the resume");
    assert.ok(closeCodes.includes(1013), `a replay was closed for its size: ${closeCodes}`);
    assert.deepEqual(appGot, ["queued-0", "queued-1", "queued-2", "after-resume"]);
    const replayed = client.received
      .filter((m) => m.startsWith("t:"))
      .map((m) => Number(m.slice(2).split(":")[0]));
    assert.deepEqual(
      replayed,
      Array.from({ length: missed }, (_, i) => i),
    );
  });
});
