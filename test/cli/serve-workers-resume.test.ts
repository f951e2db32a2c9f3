import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import WebSocket from "ws";
import { ResumingMember } from "./chat-members.js";
import { killAll, serve } from "./helpers.js";
import { openOn, until } from "./workers-helpers.js";

// `sockjet serve --workers 2` without --redis: the chat's resume store is kept by the primary
// (ClusterResumeStore + ClusterResumeHost), so a member whose worker is killed resumes on another process
// with every line said meanwhile, in order, once. The member is the resume client on the `ws` package's
// WebSocket, whose 'upgrade' event shows the X-Sockjet-Worker header: the test knows which worker holds it.

after(killAll);

/** No rate limit: 1,000 lines from one member at once. */
const UNLIMITED = ["--rate-limit", "0", "--byte-rate", "0", "--chat-rate", "0", "--quiet"];
const LINES = 1000;

/** A chat member on the resume client over ws's WebSocket, which records each 101's worker header. */
class WorkerMember extends ResumingMember {
  /** The worker of each connection, from its 101: "<slot>; pid=<pid>". */
  readonly workers: string[];

  constructor(url: string) {
    const workers: string[] = [];
    class Recorded extends WebSocket {
      constructor(address: string, protocols: string[]) {
        super(address, protocols);
        this.on("upgrade", (response) => workers.push(String(response.headers["x-sockjet-worker"])));
      }
    }
    super(url, Recorded);
    this.workers = workers;
  }

  /** The pid of the worker of the latest connection. */
  pid(): number {
    return Number(/pid=(\d+)/.exec(this.workers.at(-1) ?? "")?.[1]);
  }

  slot(): number {
    return Number(/^(\d+);/.exec(this.workers.at(-1) ?? "")?.[1]);
  }
}

const expected = Array.from({ length: LINES }, (_, i) => `line ${i}`);

describe("sockjet serve --workers: the chat resumes across workers", () => {
  test("a member whose worker is killed resumes on another process with all 1,000 lines, in order, once, and its name", async () => {
    const served = await serve(["--workers", "2", ...UNLIMITED]);
    const ann = new WorkerMember(`${served.ws}/chat?name=ann`);
    try {
      await until(() => ann.me !== null, "ann's welcome", 15_000);
      const annPid = ann.pid();
      // Ben on the other worker: he stays while ann's worker dies.
      const ben = await openOn(served, ann.slot() === 1 ? 2 : 1, "/chat?name=ben", "chat");
      await until(() => ann.events.some((e) => e.type === "join" && e.user === "ben"), "ben's join");

      process.kill(annPid, "SIGKILL");
      for (let i = 0; i < LINES; i++) ben.socket.send(JSON.stringify({ type: "message", text: `line ${i}` }));
      await until(() => ann.lines("ben").length >= LINES, "every line at ann", 30_000);
      assert.deepEqual(ann.lines("ben"), expected);
      assert.deepEqual(ann.sessions, [false, true], "one fresh session, then a resumed one");
      assert.deepEqual(ann.resets, []);
      assert.notEqual(ann.pid(), annPid, "resumed on another process");
      await until(() => ann.events.filter((e) => e.type === "welcome").length === 2, "the welcome back");
      assert.equal(ann.events.filter((e) => e.type === "welcome").at(-1)?.user, "ann", "ann keeps her name");
      // Still live after the resume.
      ben.socket.send("one more");
      await until(() => ann.lines("ben").includes("one more"), "a live line");
      assert.equal(ann.lines("ben").length, LINES + 1);
      ben.socket.close();
    } finally {
      ann.socket.close();
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
