import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:net";
import { after, describe, test } from "node:test";
import { until } from "../pubsub/helpers.js";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { type Relay, startRelay } from "../resume/redis-resume-helpers.js";
import { redisSkip } from "../support/require.js";
import { plainMember, ResumingMember, say } from "./chat-members.js";
import { killAll, type Served, serve } from "./helpers.js";
import { openOn, open as openWorker } from "./workers-helpers.js";

// `sockjet serve`'s chat room resumes (issue 19): a member whose connection dies while 1,000 lines are said
// gets every one of them, in order, once — after a network drop (memory store, one process) and after its
// server process is killed, reconnecting to ANOTHER `serve --redis` process. Members are the resume client
// (src/resume/client.ts) on sockjet's WebSocket, as the demo page is on the browser's.

after(killAll);

/** No rate limit: 1,000 lines from one member at once. */
const UNLIMITED = ["--rate-limit", "0", "--byte-rate", "0", "--chat-rate", "0", "--quiet"];
const LINES = 1000;

const expected = Array.from({ length: LINES }, (_, i) => `line ${i}`);

describe("sockjet serve: the chat resumes", () => {
  const relays: Relay[] = [];
  after(() => {
    for (const relay of relays) relay.close();
  });

  test("without --redis: a dropped connection resumes with every line said meanwhile, in order, once, and its name", async () => {
    const served = await serve(UNLIMITED);
    const relay = await startRelay(served.port);
    relays.push(relay);
    const ann = new ResumingMember(`ws://127.0.0.1:${relay.port}/chat?name=ann`);
    try {
      await until(() => ann.me !== null, 10_000, "ann's welcome");
      const ben = await plainMember(served, "ben");
      await until(() => ann.events.some((e) => e.type === "join" && e.user === "ben"), 5_000, "ben's join");

      relay.cut();
      say(ben, LINES);
      await until(() => ann.lines("ben").length >= LINES, 20_000, "every line at ann");
      assert.deepEqual(ann.lines("ben"), expected);
      assert.deepEqual(ann.sessions, [false, true], "one fresh session, then a resumed one");
      assert.deepEqual(ann.resets, []);
      await until(() => ann.welcomes().length === 2, 5_000, "the welcome back");
      assert.deepEqual(ann.welcomes(), ["ann", "ann"], "ann keeps her name");
      // Still live after the resume.
      ben.send("one more");
      await until(() => ann.lines("ben").includes("one more"), 5_000, "a live line");
      assert.equal(ann.lines("ben").length, LINES + 1);
      ben.close();
    } finally {
      ann.socket.close();
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });

  test("--redis: a member whose serve process is stopped (SIGTERM) and started again resumes there with every line", {
    skip: redisSkip(),
  }, async () => {
    const redis = await RedisServer.start();
    const running: Served[] = [];
    try {
      const [a, b] = await Promise.all([
        serve(["--redis", redis.url, ...UNLIMITED]),
        serve(["--redis", redis.url, ...UNLIMITED]),
      ]);
      running.push(a, b);
      const relay = await startRelay(a.port);
      relays.push(relay);
      const ann = new ResumingMember(`ws://127.0.0.1:${relay.port}/chat?name=ann`);
      try {
        await until(() => ann.me !== null, 10_000, "ann's welcome on a");
        const ben = await plainMember(b, "ben");
        await until(() => ann.events.some((e) => e.type === "join" && e.user === "ben"), 5_000, "ben's join");
        // A graceful stop: the room says goodbye, the server closes ann with 1001 and saves her session.
        a.cli.kill("SIGTERM");
        await a.cli.exit();
        say(ben, 100);
        const restarted = await serve(["--redis", redis.url, ...UNLIMITED]);
        running.push(restarted);
        relay.retarget(restarted.port);
        await until(() => ann.lines("ben").length >= 100, 20_000, "every line at ann, on the restarted a");
        assert.deepEqual(ann.lines("ben"), expected.slice(0, 100));
        assert.deepEqual(ann.sessions, [false, true], "resumed on the restarted process");
        await until(() => ann.welcomes().length === 2, 5_000, "the welcome back");
        assert.deepEqual(ann.welcomes(), ["ann", "ann"], "ann keeps her name (the stop freed it)");
        ben.close();
      } finally {
        ann.socket.close();
      }
    } finally {
      for (const served of running) served.cli.kill("SIGTERM");
      await Promise.all(running.map((served) => served.cli.exit()));
      await redis.kill();
    }
  });

  test("--redis: a member whose serve process is killed resumes on another one with all 1,000 lines, in order, once", {
    skip: redisSkip(),
  }, async () => {
    const redis = await RedisServer.start();
    const [a, b] = await Promise.all([
      serve(["--redis", redis.url, ...UNLIMITED]),
      serve(["--redis", redis.url, ...UNLIMITED]),
    ]);
    const relay = await startRelay(a.port);
    relays.push(relay);
    const ann = new ResumingMember(`ws://127.0.0.1:${relay.port}/chat?name=ann`);
    try {
      await until(() => ann.me !== null, 10_000, "ann's welcome on a");
      const ben = await plainMember(b, "ben");
      await until(() => ann.events.some((e) => e.type === "join" && e.user === "ben"), 5_000, "ben's join");

      // Whatever connects through the relay now reaches b; a dies at once, without a word to anyone.
      relay.retarget(b.port);
      a.cli.kill("SIGKILL");
      say(ben, LINES);
      await until(() => ann.lines("ben").length >= LINES, 30_000, "every line at ann, through b");
      assert.deepEqual(ann.lines("ben"), expected);
      assert.deepEqual(ann.sessions, [false, true], "resumed on b");
      assert.deepEqual(ann.resets, []);
      ben.send("one more");
      await until(() => ann.lines("ben").includes("one more"), 5_000, "a live line on b");
      assert.equal(ann.lines("ben").length, LINES + 1);
      ben.close();
    } finally {
      ann.socket.close();
      for (const served of [a, b]) served.cli.kill("SIGTERM");
      await Promise.all([a.cli.exit(), b.cli.exit()]);
      await redis.kill();
    }
  });

  test("--workers 2 without --redis: the primary keeps the lines; a member resumes on any worker, with every line", async () => {
    const served = await serve([
      "--workers",
      "2",
      "--rate-limit",
      "0",
      "--byte-rate",
      "0",
      "--chat-rate",
      "0",
    ]);
    const relay = await startRelay(served.port);
    relays.push(relay);
    const ann = new ResumingMember(`ws://127.0.0.1:${relay.port}/chat?name=ann`);
    const annOpens = () =>
      [...served.cli.stdout.matchAll(/\[worker (\d+)\]\s+open\s+\S+\s+\/chat\?name=ann\b/g)].map((m) =>
        Number(m[1]),
      );
    try {
      await until(() => ann.me !== null, 10_000, "ann's welcome");
      await until(() => annOpens().length >= 1, 5_000, "the log line of ann's connection");
      const [annSlot] = annOpens();
      const ben = await openOn(served, annSlot === 1 ? 2 : 1, "/chat?name=ben", "chat");
      await until(() => ann.events.some((e) => e.type === "join" && e.user === "ben"), 5_000, "ben's join");

      // The network goes away (ann's tries reach a closed port) while ben, on the other worker, speaks.
      const closed = createServer().listen(0, "127.0.0.1");
      await once(closed, "listening");
      const deadPort = (closed.address() as { port: number }).port;
      closed.close();
      relay.retarget(deadPort);
      relay.cut();
      const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
      for (const text of lines) ben.socket.send(JSON.stringify({ type: "message", text }));
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The primary hands connections round-robin: once one lands on ann's worker, hers goes to the other.
      for (let attempt = 0; attempt < 20; attempt++) {
        const probe = await openWorker(served, "/");
        probe.socket.close();
        if (probe.slot === annSlot) break;
      }
      relay.retarget(served.port);
      await until(() => ann.sessions.length === 2, 20_000, "ann back");
      // The worker's log line may come after the session it opened.
      await until(() => annOpens().length >= 2, 5_000, "the log line of ann's second connection");
      const backOn = annOpens()[1];
      const state = () => JSON.stringify({ annSlot, backOn, sessions: ann.sessions, resets: ann.resets });
      // The primary's store (ClusterResumeHost) knows her session whichever worker she is back on.
      await until(() => ann.lines("ben").length >= lines.length, 20_000, `every line at ann ${state()}`);
      assert.deepEqual(ann.lines("ben"), lines);
      assert.deepEqual(ann.sessions, [false, true], `resumed ${state()}`);
      assert.deepEqual(ann.resets, []);
      ben.socket.close();
    } finally {
      ann.socket.close();
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
