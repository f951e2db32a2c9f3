// ResumableWebSocket's send() while disconnected waits, in order (docs/resume.md). After a resume it goes
// out only once the replay is over (`resumed`): a connection lost during its replay is never handed to the
// app, so what was sent on it would be lost; it waits for the next connection instead. So does a send while the connection is closing (the server's Close has
// come): a WebSocket that is closing discards what it is given.

import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { ResumableWebSocket } from "../../src/resume/client.js";
import { WebSocket } from "../../src/web/websocket.js";
import { resumeClient, startRelay, startServer, until } from "./helpers.js";

describe("sends queued while disconnected, across a replay cut short", () => {
  test("reach the app once, in order, after the replay that completes", async (t) => {
    const started = await startServer(t, { resume: {}, maxBufferedBytes: 16 * 1024 });
    const appGot: string[] = [];
    let current: import("../../src/web/websocket.js").WebSocket | null = null;
    started.server.on("connection", (socket) => {
      current = socket;
      if (!socket.resumed) socket.subscribe("t");
      socket.onmessage = (event) => appGot.push(String(event.data));
    });
    const relay = await startRelay(t, started.url);
    const client = resumeClient(t, relay.url);
    await until(() => started.server.subscriberCount("t") === 1, 5000, "the subscription");
    // The next connection's hello waits in the relay, and it reads nothing after its 101.
    relay.holdClientData();
    relay.stallNewConnections(true);
    current!.terminate();
    await until(() => client.events.includes("disconnect"), 5000, "the client disconnected");
    for (let i = 0; i < 3; i++) client.socket.send(`queued-${i}`);
    const missed = 300; // ~19 MB: the replay fills the buffers of a connection that does not read
    const payload = "y".repeat(64 * 1024);
    for (let i = 0; i < missed; i++) started.server.publish("t", `${i}:${payload}`);
    await until(() => relay.connections() === 1, 5000, "the resume connection");
    relay.releaseClientData();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Cut during its replay: the client resumes again from what it got.
    relay.stallNewConnections(false);
    relay.cutClients();
    await until(
      () => client.received.filter((m) => m.startsWith("t:")).length >= missed,
      15_000,
      "the whole replay",
    );
    await until(() => appGot.length >= 3, 5000, "the queued sends");
    client.socket.send("after-resume");
    await until(() => appGot.length >= 4, 5000, "the send after the resume");
    assert.equal(client.events.filter((e) => e === "disconnect").length, 2, client.events.join(" "));
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

/** A resume server that records, per connection in order, the app messages each one received. */
async function serverRecordingEachConnection(t: TestContext) {
  const started = await startServer(t, { resume: {} });
  const appGot: string[][] = [];
  const accepted: WebSocket[] = [];
  started.server.on("connection", (socket) => {
    const got: string[] = [];
    appGot.push(got);
    accepted.push(socket);
    socket.onmessage = (event) => got.push(String(event.data));
  });
  return { started, appGot, accepted };
}

describe("a send while the connection is closing", () => {
  test("is not handed to the closing WebSocket (which would discard it): it goes out on the next connection", async (t) => {
    const { started, appGot, accepted } = await serverRecordingEachConnection(t);
    // The client's WebSockets, and the readyState each send() found.
    const inner: WebSocket[] = [];
    const sendStates: number[] = [];
    class RecordingWebSocket extends WebSocket {
      constructor(url: string, protocols: string[]) {
        super(url, protocols);
        inner.push(this);
      }
      override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
        sendStates.push(this.readyState);
        super.send(data);
      }
    }
    const client = new ResumableWebSocket(started.url, {
      WebSocket: RecordingWebSocket as never,
      initialDelayMs: 20,
      maxDelayMs: 50,
    });
    t.after(() => client.close());
    await until(() => accepted.length === 1 && client.readyState === 1, 5000, "the session");
    client.send("before");
    await until(() => appGot[0].length === 1, 5000, "the first message");

    accepted[0].close(4000, "go away, come back");
    // The server's Close read: the WebSocket is closing until its TCP connection ends (a later turn).
    for (let turn = 0; turn < 10_000 && inner[0].readyState !== WebSocket.CLOSING; turn++) await nextTurn();
    assert.equal(inner[0].readyState, WebSocket.CLOSING);
    assert.equal(client.readyState, 1, "the helper has not seen the close yet");
    client.send("while-closing");

    await until(() => appGot.length === 2 && appGot[1].length === 1, 5000, "the send on the next connection");
    assert.deepEqual(appGot, [["before"], ["while-closing"]]);
    assert.deepEqual(
      sendStates.filter((state) => state !== WebSocket.OPEN),
      [],
      "a send() only to an open WebSocket",
    );
  });
});

describe("a send from an error listener (the connection has dropped)", () => {
  test("waits for the next connection instead of going to the closed WebSocket", async (t) => {
    const { started, appGot, accepted } = await serverRecordingEachConnection(t);
    const client = resumeClient(t, started.url);
    await until(() => accepted.length === 1 && client.socket.readyState === 1, 5000, "the session");
    let sentInError = 0;
    client.socket.addEventListener("error", () => {
      if (sentInError++ === 0) client.socket.send("from-error");
    });
    accepted[0].terminate();
    await until(() => appGot.length === 2 && appGot[1].length === 1, 5000, "the send on the next connection");
    assert.equal(sentInError >= 1, true);
    assert.deepEqual(appGot, [[], ["from-error"]]);
  });
});
