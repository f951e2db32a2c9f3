// Positions a resuming client claims (docs/resume.md, "Failure behaviour"): one that no store can hold — not
// "", a decimal counter or a Redis stream id `ms-seq` with parts ≤ 2^64 − 1 — gets reset "invalid", never a
// store error; a well-formed one beyond the topic's last position gets reset "gap", on the memory store and
// on Redis Streams alike (a real redis-server, started by the test).

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RedisStreamStore } from "../../src/redis/index.js";
import type { ResumeStore } from "../../src/server/resume-store.js";
import type { WebSocket } from "../../src/web/websocket.js";
import { RedisServer } from "../pubsub/redis-helpers.js";
import { redisSkip } from "../support/require.js";
import { controls, rawResume, startServer, until, within } from "./helpers.js";

/** Not positions: more than two parts, a part past 2^64 − 1, leading zeros, signs, spaces, non-strings. */
const MALFORMED: unknown[] = [
  "99999999999999-1-1",
  "18446744073709551616",
  "18446744073709551616-0",
  "1-18446744073709551616",
  "99999999999999999999999",
  "007",
  "1-01",
  "-1",
  "1-",
  " 1",
  "1e3",
  42,
  null,
];

/** Well-formed, but beyond any position the topic has. */
const BEYOND = ["18446744073709551615-18446744073709551615", "18446744073709551615", "99999999999999-0"];

/** Starts a server on `store`, and a session subscribed to "news" that got one message and was cut. */
async function endedSession(t: Parameters<typeof startServer>[0], store?: ResumeStore) {
  const started = await startServer(t, { resume: store === undefined ? {} : { store } });
  const sockets: WebSocket[] = [];
  started.server.on("connection", (socket) => {
    sockets.push(socket);
    if (!socket.resumed) socket.subscribe("news");
  });
  /** A fresh session that got "one" on "news", cut: its token. */
  const cutSession = async (): Promise<string> => {
    const before = sockets.length;
    const raw = await rawResume(started.url, { type: "hello" });
    await until(() => started.server.subscriberCount("news") === 1, 5000, "the subscription");
    const serverSide = sockets[before];
    // A distributing store hears the topic once its subscription has reached it.
    if (store?.distributes) await new Promise((resolve) => setTimeout(resolve, 100));
    started.server.publish("news", "one");
    await until(
      () => raw.messages.some((m) => typeof m === "string" && m.charCodeAt(0) === 1),
      5000,
      "the message",
    );
    serverSide.terminate();
    await within(raw.closed, 5000, "the close");
    await until(() => started.server.subscriberCount("news") === 0, 5000, "the server side to close");
    return controls(raw.messages)[0].token as string;
  };
  /** What a resume claiming `position` on "news" gets: its first control message. */
  const claim = async (position: unknown): Promise<Record<string, unknown>> => {
    const token = await cutSession();
    const raw = await rawResume(started.url, { type: "resume", token, positions: { news: position } });
    await until(() => controls(raw.messages).length > 0, 5000, "the answer");
    raw.socket.close();
    await within(raw.closed, 5000, "the close");
    await until(() => started.server.clients.size === 0, 5000, "the server side to close");
    return controls(raw.messages)[0];
  };
  return { started, claim };
}

async function checkClaims(t: Parameters<typeof startServer>[0], store?: ResumeStore): Promise<void> {
  const { started, claim } = await endedSession(t, store);
  for (const position of MALFORMED)
    assert.deepEqual(await claim(position), { type: "reset", reason: "invalid" }, String(position));
  for (const position of BEYOND)
    assert.deepEqual(await claim(position), { type: "reset", reason: "gap" }, position);
  // Positions as the client got them still resume.
  assert.equal((await claim(undefined)).resumed, true);
  assert.deepEqual(started.errors, []);
}

describe("positions a resume claims", () => {
  test("on the memory store: malformed → reset 'invalid', beyond the topic's last → reset 'gap'", async (t) => {
    await checkClaims(t);
  });

  test("on Redis Streams: malformed → reset 'invalid', beyond the topic's last → reset 'gap', never a store error", {
    skip: redisSkip(),
  }, async (t) => {
    const redis = await RedisServer.start();
    t.after(() => redis.kill());
    const store = new RedisStreamStore({ url: redis.url });
    t.after(() => store.close());
    await checkClaims(t, store);
  });
});
