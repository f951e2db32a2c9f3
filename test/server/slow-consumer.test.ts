import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { nextConnection, nextEvent, onMessage, openClient, startServer } from "./helpers.js";

// Telling a peer that reads slowly from one that stopped reading (issue 14 item 4), and resuming a paused
// one (issue 21 item 4).

describe('slowConsumer "pause"', () => {
  test("regression: maxBufferedBytes below 16 KiB: 8 × 1,000-byte sends in one tick pause input, and it resumes (drain never fired)", async (t) => {
    const { server, url } = await startServer(t, { maxBufferedBytes: 4096, slowConsumer: "pause" });
    const connection = nextConnection(server);
    const client = await openClient(t, url);
    const [ws] = await connection;
    const received: string[] = [];
    onMessage(ws, (data) => {
      received.push(String(data));
      if (data === "burst") for (let i = 0; i < 8; i++) ws.send(Buffer.alloc(1000, i));
      else ws.send(`echo ${data}`);
    });
    let burst = 0;
    const after = new Promise<string>((resolve) => {
      onMessage(client, (data) => {
        if (typeof data !== "string") burst++;
        else resolve(data);
      });
    });
    client.send("burst");
    await nextEvent(client, "message");
    client.send("after the burst");
    assert.equal(
      await Promise.race([after, nextEvent(client, "close").then(() => "closed")]),
      "echo after the burst",
    );
    assert.equal(burst, 8);
    assert.deepEqual(received, ["burst", "after the burst"]);
  });
});
