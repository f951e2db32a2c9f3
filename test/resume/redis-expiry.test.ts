// A client that comes back after maxDisconnectionMs on RedisStreamStore is told `expired`, as on the memory
// store (review 6 item 3: the record's Redis TTL ended with the window, so it was gone and the answer was
// `unknown`). The record now stays as long again past its window, with expiresAt inside it.

import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { RedisStreamStore } from "../../src/redis/index.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { HOST, until, within } from "../pubsub/helpers.js";
import { RedisServer, redisSkipReason } from "../pubsub/redis-helpers.js";
import { RawResumeClient } from "./redis-resume-helpers.js";

const skip = redisSkipReason() ?? false;
const WINDOW_MS = 1000;

describe("RedisStreamStore: a resume past the window", { skip }, () => {
  let redis: RedisServer | undefined;
  after(async () => {
    await redis?.kill();
  });

  test("gets reset 'expired' (not 'unknown') while the record is kept past its window", async () => {
    redis = await RedisServer.start();
    const store = new RedisStreamStore({ url: redis.url });
    const server = new WebSocketServer({
      port: 0,
      host: HOST,
      resume: { store, maxDisconnectionMs: WINDOW_MS },
    });
    try {
      await within(store.ready, 10_000, "the store");
      if (server.address() === null) await new Promise((resolve) => server.once("listening", resolve));
      const address = server.address();
      const url = `ws://${HOST}:${typeof address === "object" && address !== null ? address.port : 0}/`;
      const client = new RawResumeClient();
      await client.connect(url);
      client.socket?.close();
      await until(() => server.clients.size === 0, 5000, "the server to see the close");
      const closedAt = Date.now();
      // Half a window past its end: expired, and still kept (for as long again as the window).
      await new Promise((resolve) => setTimeout(resolve, WINDOW_MS * 1.5));

      const from = client.events.length;
      const session = await client.connect(url);
      assert.ok(Date.now() - closedAt < WINDOW_MS * 2, "resumed within the time the record is kept");
      assert.equal(session.resumed, false);
      assert.deepEqual(
        client.eventsOf("reset", from).map((event) => event.reason),
        ["expired"],
      );
      client.socket?.close();
    } finally {
      await server.close();
    }
  });
});
