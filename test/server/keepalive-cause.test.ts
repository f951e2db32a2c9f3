import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConnectionLostError } from "../../src/protocol/errors.js";
import type { CloseEvent, ErrorEvent } from "../../src/web/events.js";
import { nextConnection, nextEvent, RawClient, startServer } from "./helpers.js";

// A peer terminated by the keepalive is not a peer that vanished: the error event says the keepalive did it
// (its own code, the interval in the message), so logs such as `sockjet serve`'s tell the two apart.

const INTERVAL = 80;

describe("keepalive termination cause", () => {
  test("server socket of a peer that never answers pings: error SJ_ERR_KEEPALIVE_TIMEOUT naming pingIntervalMs, then close 1006", async (t) => {
    const { server, port } = await startServer(t, { pingIntervalMs: INTERVAL });
    const connection = nextConnection(server);
    const raw = await RawClient.connect(t, port);
    await raw.handshake();
    const [ws] = await connection;
    const error = nextEvent<ErrorEvent>(ws, "error", INTERVAL * 10);
    const closed = nextEvent<CloseEvent>(ws, "close", INTERVAL * 10);
    const event = await error;
    assert.ok(event.error instanceof ConnectionLostError);
    assert.equal(event.error.code, "SJ_ERR_KEEPALIVE_TIMEOUT");
    assert.equal(
      event.message,
      `no pong within pingIntervalMs (${INTERVAL} ms): terminated by the keepalive`,
    );
    assert.equal((await closed).code, 1006);
  });
});
