import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { after, describe, test } from "node:test";
import WebSocket from "ws";
import { CHAT_DEFAULTS } from "../../src/cli/chat-room-options.js";
import { killAll, serve } from "./helpers.js";
import { type Client, open, openOn, until, welcome } from "./workers-helpers.js";

// The chat's names in `sockjet serve --workers 2` belong to the primary; a worker asks it for each join and
// gives up after 5 s (the member is told 4013, try again later). A primary that was only stalled answers
// later: the name it registered then must be given back, not held by nobody for good. The primary also
// counts members per address across the workers.

after(killAll);

describe("sockjet serve --workers: chat names when the primary is slow", () => {
  test("a join that timed out (primary stalled 9 s): the name is free again and the count right", async () => {
    const served = await serve(["--workers", "2"]);
    const primary = served.cli.process.pid ?? 0;
    try {
      // The primary hands a worker the TCP connection before it is stalled.
      const tcp = net.connect(served.port, "127.0.0.1");
      await once(tcp, "connect");
      await new Promise((resolve) => setTimeout(resolve, 500));
      process.kill(primary, "SIGSTOP");
      let header = "";
      let code = 0;
      try {
        const socket = new WebSocket(`${served.ws}/chat?name=alice`, ["chat"], {
          createConnection: () => tcp,
        });
        socket.on("error", () => {});
        socket.on("upgrade", (response) => (header = String(response.headers["x-sockjet-worker"] ?? "")));
        const closed = new Promise<number>((resolve) => socket.on("close", (c) => resolve(c)));
        // The handshake first waits up to 2 s for the primary's address count (serve-address-count.ts, which then
        // lets it in), then the join up to 5 s.
        code = await Promise.race([closed, new Promise<number>((resolve) => setTimeout(resolve, 9000, -1))]);
      } finally {
        process.kill(primary, "SIGCONT");
      }
      assert.equal(code, 4013, "the stalled join is refused: try again later");
      const slot = Number(/^(\d+);/.exec(header)?.[1]);
      assert.ok(slot === 1 || slot === 2, header);
      // On the same worker: its late leave (if any) goes before this join on its channel.
      const alice = await openOn(served, slot, "/chat?name=alice", "chat");
      await until(() => welcome(alice) !== undefined, "alice's welcome");
      assert.equal(welcome(alice)?.user, "alice");
      assert.equal(welcome(alice)?.users, 1);
      alice.socket.close();
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("members per address are counted across the workers: one past the limit is refused 4008, a leave frees a slot", async () => {
    const served = await serve(["--workers", "2"]);
    const limit = CHAT_DEFAULTS.maxMembersPerAddress;
    const refusal = `too many chat members from your address (at most ${limit})`;
    try {
      const members: Client[] = [];
      for (let i = 0; i < limit; i++) {
        const member = await open(served, `/chat?name=m${i}`, "chat");
        await until(() => welcome(member) !== undefined, `m${i}'s welcome`);
        members.push(member);
      }
      assert.equal(new Set(members.map((m) => m.slot)).size, 2, "the members are on both workers");
      for (let i = 0; i < 2; i++) {
        // Two, so that each worker (round-robin) is asked once.
        const extra = await open(served, `/chat?name=extra${i}`, "chat");
        assert.deepEqual(await extra.closed, { code: 4008, reason: refusal });
      }
      const [first] = members;
      first!.socket.close();
      await first!.closed;
      // Its worker gives the name and the count back once its socket has closed: a join may come first.
      let joined: Client | null = null;
      for (let attempt = 0; attempt < 20 && joined === null; attempt++) {
        const next = await open(served, "/chat?name=next", "chat");
        let refused = false;
        void next.closed.then(() => (refused = true));
        await until(() => welcome(next) !== undefined || refused, "next's welcome or its close");
        if (!refused) joined = next;
        else await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.ok(joined !== null, "a member joins once one has left");
      for (const member of [...members.slice(1), joined]) member.socket.close();
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
