// What a client sends behind its resume hello while the resume is handled (docs/resume.md, "Wire"): the
// server reads on (so that a Close, pongs and the keepalive work during a long replay), keeps up to 1 MiB of
// it for the app, after 'connection', in order, and closes the connection (1008) past that.

import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { SessionRecord } from "../../src/server/resume-store.js";
import { WebSocket } from "../../src/web/websocket.js";
import { clientFrame, OP, RawClient, upgradeRequest } from "../server/helpers.js";
import { controls, rawResume, startServer, until, within } from "./helpers.js";

/** A memory store whose takes wait, once `holding`, until release(). */
class HoldingStore extends MemoryResumeStore {
  holding = false;
  taking = false;
  private released: () => void = () => {};
  private readonly gate = new Promise<void>((resolve) => {
    this.released = resolve;
  });

  release(): void {
    this.released();
  }

  override async takeSession(id: string): Promise<SessionRecord | undefined> {
    if (this.holding) {
      this.taking = true;
      await this.gate;
    }
    return super.takeSession(id);
  }
}

/** A server on a HoldingStore, and the token of a session that was opened there and closed. */
async function serverWithEndedSession(t: TestContext) {
  const store = new HoldingStore();
  const started = await startServer(t, { resume: { store } });
  const raw = await rawResume(started.url, { type: "hello" });
  await until(() => controls(raw.messages).length === 1, 5000, "the session");
  const token = controls(raw.messages)[0].token as string;
  raw.socket.close();
  await within(raw.closed, 5000, "the first connection's close");
  return { store, started, token };
}

/** A server whose resumes wait for `store.release()`, and a connection resuming its one session there. */
async function resumeWaitingForStore(t: TestContext) {
  const { store, started, token } = await serverWithEndedSession(t);
  const got: number[] = [];
  started.server.on("connection", (socket) => {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => got.push(new Uint8Array(event.data as ArrayBuffer)[0] ?? -1);
  });
  store.holding = true;
  const socket = new WebSocket(started.url, ["sockjet.resume.1"]);
  t.after(() => socket.close());
  const closed = new Promise<CloseEvent>((resolve) => socket.addEventListener("close", resolve));
  await within(new Promise((resolve) => socket.addEventListener("open", resolve)), 5000, "open");
  socket.send(JSON.stringify({ type: "resume", token, positions: {} }));
  return { store, socket, got, closed };
}

describe("messages behind a resume hello, while the resume waits for its store", () => {
  test("up to 1 MiB are kept, and reach the app after 'connection', in order", async (t) => {
    const { store, socket, got } = await resumeWaitingForStore(t);
    const count = 3;
    for (let i = 0; i < count; i++) socket.send(Buffer.alloc(256 * 1024, i));
    await until(() => store.taking, 5000, "the resume taking its record");
    // Read meanwhile (the server keeps reading during a resume): nothing waits at the client.
    await until(() => socket.bufferedAmount === 0, 5000, "the server read them");
    assert.deepEqual(got, [], "nothing before 'connection'");
    store.release();
    await until(() => got.length === count, 10_000, "the app messages");
    assert.deepEqual(got, [0, 1, 2]);
    assert.equal(socket.readyState, WebSocket.OPEN);
  });

  for (const [name, count, size] of [
    ["5 × 256 KiB", 5, 256 * 1024],
    ["20,000 empty messages (each counted 64 bytes)", 20_000, 0],
  ] as const) {
    test(`past 1 MiB (${name}) close the connection with 1008 and say why; the app never sees them`, async (t) => {
      const { store, socket, got, closed } = await resumeWaitingForStore(t);
      for (let i = 0; i < count; i++) socket.send(Buffer.alloc(size, i));
      const event = await within(closed, 10_000, "the close");
      assert.equal(event.code, 1008);
      assert.equal(
        event.reason,
        "sockjet.resume: over 1 MiB sent behind the hello; send once the session is up",
      );
      store.release();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(got, []);
    });
  }

  test("closed for them, a peer that does not answer the Close gets no 'connection' and no delivery", async (t) => {
    const { store, started, token } = await serverWithEndedSession(t);
    const seen: string[] = [];
    started.server.on("connection", (socket) => {
      seen.push("connection");
      socket.onmessage = () => seen.push("message");
    });
    store.holding = true;
    const client = await RawClient.connect(t, Number(new URL(started.url).port));
    client.write(upgradeRequest({ headers: { "Sec-WebSocket-Protocol": "sockjet.resume.1" } }));
    await client.readHead();
    client.write(clientFrame(OP.text, JSON.stringify({ type: "resume", token, positions: {} })));
    await until(() => store.taking, 5000, "the resume taking its record");
    for (let i = 0; i < 5; i++) client.write(clientFrame(OP.binary, Buffer.alloc(256 * 1024, i)));
    await client.until(() => client.buffer.includes("over 1 MiB"), 5000, "the server's Close");
    // Never answered; more messages, and the resume's record arrives meanwhile.
    client.write(clientFrame(OP.binary, Buffer.alloc(10)));
    store.release();
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.write(clientFrame(OP.binary, Buffer.alloc(11)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(seen, []);
  });
});
