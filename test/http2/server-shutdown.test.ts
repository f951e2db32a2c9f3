import assert from "node:assert/strict";
import { once } from "node:events";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { defer, HOST, within } from "../server/helpers.js";
import { FRAME, RawH2Peer } from "./raw-frames.js";

// close() of a standalone `http2: true` server: GOAWAY on every session (RFC 9113 §6.8), then a peer that
// holds its connection is cut once shutdownTimeoutMs is over. node:http2's graceful close waits for the peer
// for ever: a client that did not read a 426 or 405 body held close() for good (review 143: over 11 minutes).

const SHUTDOWN_MS = 500;

describe("WebSocketServer over HTTP/2: close() with peers that hold their connections", () => {
  for (const method of ["GET", "CONNECT"]) {
    test(`regression: a client that does not read the answer to a plain ${method} does not hold close() past shutdownTimeoutMs`, async (t) => {
      const server = new WebSocketServer({
        port: 0,
        host: HOST,
        http2: true,
        shutdownTimeoutMs: SHUTDOWN_MS,
      });
      await once(server, "listening");
      const { port } = server.address() as AddressInfo;
      const session = http2.connect(`http://${HOST}:${port}`);
      session.on("error", () => {});
      defer(t, () => session.destroy());
      const headers =
        method === "CONNECT"
          ? { ":method": "CONNECT", ":authority": "example.com:443" }
          : { ":method": "GET", ":path": "/" };
      const stream = session.request(headers, { endStream: method !== "CONNECT" });
      stream.on("error", () => {});
      const response = await within(once(stream, "response"), 5000, "the answer");
      assert.equal(response[0][":status"], method === "CONNECT" ? 405 : 426);
      // The body is never read, and the session is kept.
      const started = Date.now();
      await within(server.close(), SHUTDOWN_MS + 5000, "close()");
      const took = Date.now() - started;
      assert.ok(took >= SHUTDOWN_MS - 50, `close() took ${took} ms: the peer is given shutdownTimeoutMs`);
    });
  }

  test("a raw peer that sends a plain CONNECT and then nothing gets a GOAWAY, and close() closes its connection", async (t) => {
    const server = new WebSocketServer({ port: 0, host: HOST, http2: true, shutdownTimeoutMs: SHUTDOWN_MS });
    await once(server, "listening");
    const peer = await RawH2Peer.connect((server.address() as AddressInfo).port);
    defer(t, () => peer.close());
    const closed = once(peer.socket, "close");
    peer.request(1, [
      [":method", "CONNECT"],
      [":authority", "example.com:443"],
    ]);
    await peer.waitFor((frame) => frame.type === FRAME.headers && frame.streamId === 1, "the 405");
    await within(server.close(), SHUTDOWN_MS + 5000, "close()");
    assert.ok(
      peer.frames.some((frame) => frame.type === FRAME.goaway),
      "GOAWAY first (RFC 9113 §6.8)",
    );
    await within(closed, 5000, "the server to close the connection");
  });
});
