import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { WebSocket } from "../../src/web/websocket.js";
import { nextConnection, onMessage, openClient, startServer, suiteCleanup, waitFor } from "./helpers.js";

// A text message sent on from its own message handler (an echo, a relay to other connections) is framed
// from the bytes it arrived as when it was all ASCII (protocol/utf8.ts deliveredAsciiBytes), not encoded
// again. These tests check, on real sockets, that only a string equal to the message being delivered gets
// those bytes: other strings of the same length, and the strings of earlier messages, are encoded as usual.

const t = suiteCleanup((fn) => test.after(fn));
const ascii = (char: string, length = 1000) => char.repeat(length);

/** Messages received by `ws`, in order. */
function collect(ws: WebSocket): string[] {
  const got: string[] = [];
  onMessage(ws, (data) => got.push(data));
  return got;
}

describe("a received text message sent on", () => {
  test("to its sender, to another connection, changed, and after later messages: each arrives as sent", async () => {
    const { server, url } = await startServer(t);
    const first = nextConnection(server);
    const sender = await openClient(t, url);
    const [fromSender] = await first;
    const second = nextConnection(server);
    const other = await openClient(t, url);
    const [toOther] = await second;
    let earlier: string | null = null;
    fromSender.addEventListener("message", (event) => {
      const text = (event as unknown as { data: string }).data;
      fromSender.send(text); // the echo: the delivered bytes
      toOther.send(text); // the relay
      fromSender.send(text.toUpperCase()); // same length, other bytes
      fromSender.send(` ${text}`.slice(1)); // another string of equal value
      if (earlier !== null) fromSender.send(earlier); // an earlier message's string, not the one delivered
      earlier = text;
    });
    const echoes = collect(sender);
    const relayed = collect(other);
    sender.send(ascii("a"));
    sender.send(ascii("b"));
    sender.send("é ünïcode ".repeat(40)); // not ASCII: decoded and encoded as UTF-8
    await waitFor(() => echoes.length === 3 + 4 + 4 && relayed.length === 3, 5000, "every message back");
    const unicode = "é ünïcode ".repeat(40);
    assert.deepEqual(echoes, [
      ...[ascii("a"), ascii("A"), ascii("a")],
      ...[ascii("b"), ascii("B"), ascii("b"), ascii("a")],
      ...[unicode, unicode.toUpperCase(), unicode, ascii("b")],
    ]);
    assert.deepEqual(relayed, [ascii("a"), ascii("b"), unicode]);
  });

  test("by a client (masked frames) to the server, for messages from 256 B to 300 KiB", async () => {
    const { server, url } = await startServer(t);
    const connected = nextConnection(server);
    const client = await openClient(t, url);
    const [serverSide] = await connected;
    client.addEventListener("message", (event) => client.send((event as unknown as { data: string }).data));
    const back = collect(serverSide);
    const sizes = [256, 1000, 16 * 1024, 70_000, 300 * 1024];
    const sent = sizes.map((size, i) => {
      let text = "";
      for (let k = 0; text.length < size; k++) text += String.fromCharCode(32 + ((k * 7 + i) % 95));
      return text.slice(0, size);
    });
    for (const text of sent) serverSide.send(text);
    await waitFor(() => back.length === sent.length, 10_000, "every echo");
    assert.deepEqual(
      back.map((text) => text.length),
      sizes,
    );
    assert.deepEqual(back, sent);
  });
});
