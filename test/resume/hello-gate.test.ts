// What a client sends behind its resume hello while the resume is handled (docs/resume.md, "Wire"): the
// server reads on, keeping up to 1 MiB of it for the app (so that a Close, pongs and the keepalive work
// during a long replay), stops reading past that, and hands it all to the app after 'connection', in order.

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryResumeStore } from "../../src/server/memory-resume-store.js";
import type { SessionRecord } from "../../src/server/resume-store.js";
import { WebSocket } from "../../src/web/websocket.js";
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

describe("messages behind a resume hello, while the resume waits for its store", () => {
  test("past 1 MiB the server stops reading them; then all reach the app after 'connection', in order", async (t) => {
    const store = new HoldingStore();
    const started = await startServer(t, { resume: { store } });
    const raw = await rawResume(started.url, { type: "hello" });
    await until(() => controls(raw.messages).length === 1, 5000, "the session");
    const token = controls(raw.messages)[0].token as string;
    raw.socket.close();
    await within(raw.closed, 5000, "the first connection's close");
    const got: number[] = [];
    started.server.on("connection", (socket) => {
      socket.binaryType = "arraybuffer";
      socket.onmessage = (event) => got.push(Buffer.from(event.data as ArrayBuffer)[0]);
    });
    store.holding = true;
    const socket = new WebSocket(started.url, ["sockjet.resume.1"]);
    t.after(() => socket.close());
    await within(new Promise((resolve) => socket.addEventListener("open", resolve)), 5000, "open");
    socket.send(JSON.stringify({ type: "resume", token, positions: {} }));
    // 32 MiB: more than the 1 MiB kept plus what the kernel's buffers on both sides take (a few MiB).
    const count = 128;
    for (let i = 0; i < count; i++) socket.send(Buffer.alloc(256 * 1024, i));
    await until(() => store.taking, 5000, "the resume taking its record");
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.ok(
      socket.bufferedAmount > 8 * 1024 * 1024,
      `the server stopped reading: ${socket.bufferedAmount}`,
    );
    assert.deepEqual(got, [], "nothing before 'connection'");
    store.release();
    await until(() => got.length === count, 10_000, "the app messages");
    assert.deepEqual(
      got,
      Array.from({ length: count }, (_, i) => i),
    );
  });
});
