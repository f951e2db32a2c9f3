import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { LocalPresence, type PresenceJoin } from "../../src/cli/chat-presence.js";
import { ChatRoom } from "../../src/cli/chat-room.js";
import type { ChatHub, ChatRoomOptions } from "../../src/cli/chat-room-options.js";
import { WebSocket, WebSocketServer } from "../../src/index.js";

// What the room bounds before it does any work for a member (attack review): a text's length is checked
// before it is cleaned, and what a joining socket sends while presence is slow (a frozen Redis) is bounded.

/** The server's topics, with every publish recorded. */
class RecordingHub implements ChatHub {
  readonly published: string[] = [];
  server!: WebSocketServer;
  publish(topic: string, data: string): number {
    this.published.push(data);
    return this.server.publish(topic, data);
  }
  adapterSettled(): Promise<void> {
    return this.server.adapterSettled();
  }
  subscriberCount(topic: string): number {
    return this.server.subscriberCount(topic);
  }
}

/** LocalPresence whose join answers only when let go, as a frozen Redis would not. */
class HeldPresence extends LocalPresence {
  private gates: (() => void)[] = [];
  override async join(requested: string): Promise<PresenceJoin> {
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return super.join(requested);
  }
  get waiting(): number {
    return this.gates.length;
  }
  release(): void {
    for (const open of this.gates.splice(0)) open();
  }
}

async function withRoom(
  options: Partial<ChatRoomOptions>,
  run: (url: string, hub: RecordingHub) => Promise<void>,
): Promise<void> {
  const hub = new RecordingHub();
  const room = new ChatRoom({ hub, now: () => 42, ...options });
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  hub.server = server;
  server.on("connection", (socket, request) => {
    void room.join(socket, new URL(request.url ?? "/", "http://x").searchParams.get("name"));
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  try {
    await run(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, hub);
  } finally {
    if (options.presence instanceof HeldPresence) options.presence.release();
    await server.close();
  }
}

interface Member {
  socket: WebSocket;
  received: Record<string, unknown>[];
  closed: Promise<{ code: number; reason: string }>;
}

async function member(url: string): Promise<Member> {
  const socket = new WebSocket(url);
  const received: Record<string, unknown>[] = [];
  socket.addEventListener("message", (event) => received.push(JSON.parse(event.data)));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  await new Promise((resolve) => socket.addEventListener("open", resolve));
  return { socket, received, closed };
}

/** `promise`, or a failure after `ms`. */
async function within<T>(promise: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  for (let i = 0; i < ms / 10 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check(), `condition not reached within ${ms} ms`);
}

describe("ChatRoom limits checked before the work (attack review)", () => {
  test("maxTextLength is checked on the text as sent, before cleaning: 11 controls with a limit of 10 are too long", async () => {
    await withRoom({ maxTextLength: 10 }, async (url, hub) => {
      const m = await member(`${url}?name=eve`);
      await until(() => m.received.some((e) => e.type === "join"));
      // Cleaning would leave nothing of it (and drop it silently): the limit speaks first.
      m.socket.send("\u0000".repeat(11));
      m.socket.send("ok");
      // The error travels to the client while "ok" is published here: wait for both (the error came before
      // "ok" was read, so no other error of it can follow).
      await until(
        () => hub.published.some((p) => p.includes('"ok"')) && m.received.some((e) => e.type === "error"),
        5000,
      );
      assert.deepEqual(
        m.received.filter((e) => e.type === "error").map((e) => e.error),
        ["message too long: 11 characters, at most 10"],
      );
      // Exactly the limit passes (and is cleaned as usual).
      m.socket.send("a\u0000bcdefghi");
      await until(() => hub.published.some((p) => p.includes('"abcdefghi"')));
      m.socket.close();
    });
  });

  test("a joining socket that sends more than maxEarlyMessages before its welcome is refused with 4008", async () => {
    const presence = new HeldPresence();
    await withRoom({ presence, maxEarlyMessages: 5, maxEarlyBytes: 1000 }, async (url, hub) => {
      const polite = await member(`${url}?name=polite`);
      const flood = await member(`${url}?name=flood`);
      await until(() => presence.waiting === 2);
      for (let i = 0; i < 5; i++) polite.socket.send(`p${i}`);
      for (let i = 0; i < 6; i++) flood.socket.send(`f${i}`);
      const closed = await within(flood.closed);
      assert.equal(closed.code, 4008);
      assert.equal(closed.reason, "too much sent before the welcome (at most 5 messages, 1000 bytes)");
      assert.deepEqual(flood.received, [
        { type: "error", error: "too much sent before the welcome (at most 5 messages, 1000 bytes)" },
      ]);
      // The one within the bounds keeps all it sent, after its join notice.
      presence.release();
      await until(() => polite.received.filter((e) => e.type === "message").length === 5);
      assert.deepEqual(
        polite.received.filter((e) => e.type === "message").map((e) => e.text),
        ["p0", "p1", "p2", "p3", "p4"],
      );
      assert.ok(!hub.published.some((p) => p.includes('"flood"')), "the refused one is never announced");
      polite.socket.close();
    });
  });

  test("a joining socket that sends more than maxEarlyBytes before its welcome is refused with 4008", async () => {
    const presence = new HeldPresence();
    await withRoom({ presence, maxEarlyMessages: 5, maxEarlyBytes: 1000 }, async (url) => {
      const big = await member(`${url}?name=big`);
      await until(() => presence.waiting === 1);
      big.socket.send("x".repeat(600));
      big.socket.send("\u00e9".repeat(250)); // 500 bytes in UTF-8: 1,100 in all
      const closed = await within(big.closed);
      assert.equal(closed.code, 4008);
    });
  });

  test("linesPerSecond: a member's lines past its burst (twice the rate) are refused with an error, not sent (review)", async () => {
    await withRoom({ linesPerSecond: 5 }, async (url, hub) => {
      const talker = await member(`${url}?name=talker`);
      const listener = await member(`${url}?name=listener`);
      for (let i = 0; i < 14; i++) talker.socket.send(`l${i}`);
      await until(() => talker.received.filter((e) => e.type === "error").length === 4);
      await until(() => listener.received.filter((e) => e.type === "message").length === 10);
      assert.deepEqual(
        listener.received.filter((e) => e.type === "message").map((e) => e.text),
        Array.from({ length: 10 }, (_, i) => `l${i}`),
        "the burst: 10 lines",
      );
      assert.equal(
        talker.received.find((e) => e.type === "error")?.error,
        "too many lines: at most 5 a second; this one was not sent",
      );
      assert.ok(!hub.published.some((p) => /"l1\d"/.test(p)), "l10-l13 are never published");
      // The bucket refills: after 0.5 s, two more go.
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const text of ["later0", "later1"]) talker.socket.send(text);
      await until(() => listener.received.filter((e) => e.type === "message").length === 12);
      talker.socket.close();
      listener.socket.close();
    });
  });

  test("linesPerSecond: leaving and joining again does not refill a member's lines (its address shares 4 members' worth; review)", async () => {
    await withRoom({ linesPerSecond: 5 }, async (url) => {
      const listener = await member(`${url}?name=listener`);
      // One address: 4 members' bursts (40 lines) in all, however often its members leave and come back.
      for (let round = 0; round < 8; round++) {
        const churner = await member(`${url}?name=churner`);
        for (let i = 0; i < 10; i++) churner.socket.send(`r${round}-${i}`);
        await until(
          () =>
            churner.received.filter((e) => e.type === "message").length === 10 ||
            churner.received.some((e) => e.type === "error"),
        );
        churner.socket.close();
        await within(churner.closed);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      const heard = listener.received.filter((e) => e.type === "message" && String(e.text).startsWith("r"));
      // 40 of the address's burst (the listener's own lines count against it too, but it said none), plus
      // what refilled meanwhile (20 a second): far below the 80 sent.
      assert.ok(heard.length >= 40 && heard.length < 60, `${heard.length} lines heard`);
      listener.socket.close();
    });
  });
});
