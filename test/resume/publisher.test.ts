// A session's own publishes (socket.publish, which skips its publisher live) are left out of its replays
// too (docs/resume.md): the store keeps each message's publisher id, the same across the session's resumes.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { WebSocket } from "../../src/web/websocket.js";
import { controls, rawResume, startServer, until, within } from "./helpers.js";

function topicPayloads(messages: (string | Buffer)[]): string[] {
  return messages
    .filter((m): m is string => typeof m === "string" && m.charCodeAt(0) === 1)
    .map((m) => m.slice(m.indexOf("\n") + 1));
}

describe("a session's own publishes", () => {
  test("are not replayed to it, across two resumes; the others' are", async (t) => {
    const started = await startServer(t, { resume: {} });
    const sockets: WebSocket[] = [];
    started.server.on("connection", (socket) => {
      sockets.push(socket);
      if (!socket.resumed) socket.subscribe("room");
      socket.onmessage = (event) => socket.publish("room", event.data as string);
    });
    const a = await rawResume(started.url, { type: "hello" });
    const b = await rawResume(started.url, { type: "hello" });
    await until(() => started.server.subscriberCount("room") === 2, 5000, "both subscriptions");
    a.socket.send("from-a-1");
    await until(() => topicPayloads(b.messages).includes("from-a-1"), 5000, "b to get a's message");
    assert.deepEqual(topicPayloads(a.messages), []);

    let token = controls(a.messages)[0].token as string;
    let position = "";
    for (const round of [1, 2]) {
      sockets.find((s) => s.readyState === 1 && s !== sockets[1])!.terminate();
      await until(() => started.server.subscriberCount("room") === 1, 5000, "a's side to close");
      started.server.publish("room", `from-server-${round}`);
      const again = await rawResume(started.url, { type: "resume", token, positions: { room: position } });
      await until(() => controls(again.messages).some((c) => c.type === "resumed"), 5000, "the resume");
      // What the session published (from-a-*) is not replayed; what was published while it was away is.
      assert.deepEqual(topicPayloads(again.messages), [`from-server-${round}`], `round ${round}`);
      const replayed = again.messages.find((m) => typeof m === "string" && m.charCodeAt(0) === 1) as string;
      // 0x01 "<topic number> <position>\n"
      position = replayed.slice(replayed.indexOf(" ") + 1, replayed.indexOf("\n"));
      again.socket.send(`from-a-${round + 1}`);
      await until(
        () => topicPayloads(b.messages).includes(`from-a-${round + 1}`),
        5000,
        "b to get a's next message",
      );
      token = controls(again.messages)[0].token as string;
    }
    b.socket.close();
  });

  for (const when of ["before", "after"] as const) {
    test(`published after its connection dropped (an async handler), ${when} the resume: not sent to it, the others get it`, async (t) => {
      const started = await startServer(t, { resume: {} });
      const sockets: WebSocket[] = [];
      // The app's publishes still to run: "later <text>" publishes <text> from the socket when the test says.
      const later: (() => void)[] = [];
      started.server.on("connection", (socket) => {
        sockets.push(socket);
        if (!socket.resumed) socket.subscribe("room");
        socket.onmessage = (event) => {
          const text = String(event.data);
          if (text.startsWith("later ")) later.push(() => socket.publish("room", text.slice(6)));
        };
      });
      const a = await rawResume(started.url, { type: "hello" });
      const b = await rawResume(started.url, { type: "hello" });
      await until(() => started.server.subscriberCount("room") === 2, 5000, "both subscriptions");
      a.socket.send("later own");
      await until(() => later.length === 1, 5000, "the app to take a's message");
      started.server.publish("room", "seen");
      await until(() => topicPayloads(a.messages).includes("seen"), 5000, "a to get a message");
      const seen = a.messages.find((m) => typeof m === "string" && m.charCodeAt(0) === 1) as string;
      const position = seen.slice(seen.indexOf(" ") + 1, seen.indexOf("\n"));
      const token = controls(a.messages)[0].token as string;
      sockets[0].terminate();
      await within(a.closed, 5000, "a's close");
      await until(() => started.server.subscriberCount("room") === 1, 5000, "a's side to close");

      if (when === "before") later[0]();
      const again = await rawResume(started.url, { type: "resume", token, positions: { room: position } });
      await until(() => controls(again.messages).some((c) => c.type === "resumed"), 5000, "the resume");
      if (when === "after") later[0]();
      started.server.publish("room", "marker");
      await until(() => topicPayloads(again.messages).includes("marker"), 5000, "the marker");
      await until(() => topicPayloads(b.messages).includes("marker"), 5000, "b to get the marker");
      // Its own message reached the other session, in order, and never came back to it.
      assert.deepEqual(topicPayloads(b.messages), ["seen", "own", "marker"]);
      assert.deepEqual(topicPayloads(again.messages), ["marker"]);
      again.socket.close();
      b.socket.close();
    });
  }
});
