import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/index.js";
import { echoServer } from "../client/helpers.js";
import { nextEvent, reconnecting } from "./helpers.js";

// bufferedAmount once closing follows the WebSocket's rule (WHATWG send(): data sent after the closing
// handshake started is discarded but "must increase the bufferedAmount attribute", and once closed the value
// "will only increase") (outside review 49).

describe("ReconnectingWebSocket: bufferedAmount after close()", () => {
  test("send() after close() counts in bufferedAmount as on a WebSocket, CLOSING and CLOSED", async (t) => {
    const peer = await echoServer(t);
    const plain = new WebSocket(peer.url);
    t.after(() => plain.close());
    const client = reconnecting(t, peer.url);
    await Promise.all([nextEvent(plain, "open"), nextEvent(client, "open")]);
    plain.close();
    client.close();
    plain.send("abc");
    client.send("abc");
    assert.equal(client.readyState, client.CLOSING);
    assert.equal(client.bufferedAmount, plain.bufferedAmount);
    assert.equal(client.bufferedAmount, 3);
    await Promise.all([nextEvent(plain, "close"), nextEvent(client, "close")]);
    plain.send("abcdef");
    client.send(new Uint8Array(4));
    client.send("ab");
    assert.equal(plain.bufferedAmount, 9);
    assert.equal(client.bufferedAmount, 9);
  });

  test("it does not fall when the last connection closes: its unsent bytes and the queue's stay counted", async (t) => {
    const peer = await echoServer(t);
    const client = reconnecting(t, peer.url);
    await nextEvent(client, "open");
    client.close();
    // The closing connection itself discards and counts a send (Node-only access to it).
    client.webSocket!.send("xyz");
    assert.equal(client.bufferedAmount, 3);
    await nextEvent(client, "close");
    assert.equal(client.bufferedAmount, 3);

    // Queued while connecting, then closed: dropped with a `drop` event, never sent, still counted.
    const queued = reconnecting(t, peer.url, { queue: { maxMessages: 5 } });
    queued.send("12345");
    queued.close();
    assert.equal(queued.bufferedAmount, 5);
    const drop = nextEvent(queued, "drop");
    await nextEvent(queued, "close");
    await drop;
    assert.equal(queued.bufferedAmount, 5);
    queued.send("6");
    assert.equal(queued.bufferedAmount, 6);
  });
});
