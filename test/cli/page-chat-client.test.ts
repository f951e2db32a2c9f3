import assert from "node:assert/strict";
import { after, test } from "node:test";
import { CHAT_DEFAULTS } from "../../src/cli/chat-room-options.js";
import { renderPage } from "../../src/cli/page.js";
import { CHAT_CLIENT_OPTIONS } from "../../src/cli/page-script.js";
import { ResumableWebSocket, type ResumeEvent } from "../../src/resume/client.js";
import { WebSocket } from "../../src/web/websocket.js";
import { within } from "../pubsub/helpers.js";
import { plainMember } from "./chat-members.js";
import { killAll, serve } from "./helpers.js";

// The demo page's chat client (src/cli/page-script.ts) with the page's own options, on sockjet's WebSocket
// against a real `sockjet serve`: a join the room refuses by policy (4008, chat-room.ts) ends it, as 1008 would.

after(killAll);

test("the page builds its chat client with CHAT_CLIENT_OPTIONS", () => {
  assert.ok(
    renderPage("x").includes(
      `/chat?name=" + encodeURIComponent(name), ${JSON.stringify(CHAT_CLIENT_OPTIONS)})`,
    ),
  );
});

test("regression: the page's chat client refused with 4008 (too many members from one address) stops instead of retrying forever", async () => {
  const served = await serve(["--quiet"]);
  const members: WebSocket[] = [];
  try {
    for (let i = 0; i < CHAT_DEFAULTS.maxMembersPerAddress; i++)
      members.push(await plainMember(served, `m${i}`));
    const refused = new ResumableWebSocket(`${served.ws}/chat?name=extra`, {
      WebSocket: WebSocket as never,
      ...CHAT_CLIENT_OPTIONS,
    });
    try {
      const ended = new Promise<string>((resolve) => {
        refused.addEventListener("reconnecting", (event) => resolve(`reconnecting after ${event.code}`));
        refused.addEventListener("close", (event: ResumeEvent) => resolve(`close ${event.code}`));
      });
      assert.equal(await within(ended, 10_000, "the refused client's end or retry"), "close 4008");
      assert.equal(refused.readyState, ResumableWebSocket.CLOSED);
    } finally {
      refused.close();
    }
  } finally {
    for (const member of members) member.close();
    served.cli.kill("SIGTERM");
    await served.cli.exit();
  }
});
