import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { LocalPresence, type PresenceJoin } from "../../src/cli/chat-presence.js";
import { type ChatPresence, ChatRoom } from "../../src/cli/chat-room.js";
import type { ChatHub, ChatRoomOptions } from "../../src/cli/chat-room-options.js";
import { WebSocket, WebSocketServer } from "../../src/index.js";

// The room logic on an in-process server: every broadcast is one publish to the room's topic (recorded
// here; with an adapter the same publish reaches the other processes), and presence is a seam too.

/** The server's topics, with every publish recorded. */
class RecordingHub implements ChatHub {
  readonly published: { topic: string; data: string }[] = [];
  server!: WebSocketServer;
  publish(topic: string, data: string): number {
    this.published.push({ topic, data });
    return this.server.publish(topic, data);
  }
  adapterSettled(): Promise<void> {
    return this.server.adapterSettled();
  }
  subscriberCount(topic: string): number {
    return this.server.subscriberCount(topic);
  }
  texts(from: number): string[] {
    return this.published.slice(from).map((p) => p.data);
  }
}

/** LocalPresence whose join answers only when let go, as a slow Redis would. */
class SlowPresence extends LocalPresence {
  private gates: (() => void)[] = [];
  readonly left: string[] = [];
  override async join(requested: string): Promise<PresenceJoin> {
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return super.join(requested);
  }
  override async leave(name: string): Promise<number> {
    this.left.push(name);
    return super.leave(name);
  }
  get waiting(): number {
    return this.gates.length;
  }
  release(): void {
    for (const open of this.gates.splice(0)) open();
  }
}

interface Started {
  server: WebSocketServer;
  hub: RecordingHub;
  room: ChatRoom;
  url: string;
}

async function start(
  path: string,
  presence?: ChatPresence,
  options: Partial<ChatRoomOptions> = {},
  hub = new RecordingHub(),
): Promise<Started> {
  const room = new ChatRoom({ hub, presence, maxTextLength: 10, now: () => 42, ...options });
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  hub.server = server;
  server.on("connection", (socket, request) => {
    void room.join(socket, new URL(request.url ?? "/", "http://x").searchParams.get("name"));
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  return { server, hub, room, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}${path}` };
}

let started: Started;
let url: string;
let slow: Started & { presence: SlowPresence };
before(async () => {
  started = await start("/");
  url = started.url;
  const presence = new SlowPresence();
  slow = { ...(await start("/", presence)), presence };
});
after(() => Promise.all([started.server.close(), slow.server.close()]));

/** A client that collects the parsed events it receives. */
async function member(
  query: string,
  base = url,
): Promise<{ socket: WebSocket; received: Record<string, unknown>[] }> {
  const socket = new WebSocket(`${base}${query}`);
  const received: Record<string, unknown>[] = [];
  socket.addEventListener("message", (event) => received.push(JSON.parse(event.data)));
  await new Promise((resolve) => socket.addEventListener("open", resolve));
  return { socket, received };
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  for (let i = 0; i < ms / 10 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check(), `condition not reached within ${ms} ms`);
}

describe("ChatRoom", () => {
  test("names: cleaned of markup, guest-N when none, made unique", async () => {
    const a = await member("?name=%3Cb%3Eann%3C/b%3E");
    const b = await member("?name=bann");
    const c = await member("");
    await until(() => a.received.length > 0 && b.received.length > 0 && c.received.length > 0);
    assert.equal(a.received[0].user, "bannb");
    assert.equal(b.received[0].user, "bann");
    assert.match(String(c.received[0].user), /^guest-\d+$/);
    const d = await member("?name=bann");
    await until(() => d.received.length > 0);
    assert.equal(d.received[0].user, "bann-2");
    for (const m of [a, b, c, d]) m.socket.close();
  });

  test("every broadcast is one publish to the topic, serialized once; a publish from elsewhere reaches members", async () => {
    const { hub } = started;
    const m = await member("?name=zed");
    await until(() => m.received.some((e) => e.type === "join" && e.user === "zed"));
    assert.ok(hub.published.every((p) => p.topic === "chat"));
    const before = hub.published.length;
    m.socket.send("hello");
    await until(() => hub.texts(before).some((p) => p.includes('"text"')));
    assert.deepEqual(
      hub.texts(before).filter((p) => p.includes('"text"')),
      ['{"type":"message","user":"zed","text":"hello","time":42}'],
    );
    // What the adapter hands over from another process is a publish on the same topic.
    started.server.publish("chat", '{"type":"message","user":"remote","text":"hi","time":1}');
    await until(() => m.received.some((e) => e.user === "remote"));
    assert.equal(m.received.filter((e) => e.user === "remote").length, 1);
    m.socket.close();
  });

  test("the welcome comes first even when presence is slow; what was sent before it follows the join notice", async () => {
    const { presence, hub } = slow;
    const m = await member("?name=early", slow.url);
    // Sent while the room is still asking presence for a name: kept, not lost.
    m.socket.send("first");
    m.socket.send("second");
    await until(() => presence.waiting === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(m.received.length, 0, "nothing before the welcome");
    assert.equal(hub.published.length, 0);
    presence.release();
    await until(() => m.received.length === 4);
    assert.deepEqual(
      m.received.map((e) => [e.type, e.text ?? e.user]),
      [
        ["welcome", "early"],
        ["join", "early"],
        ["message", "first"],
        ["message", "second"],
      ],
    );
    m.socket.close();
    await until(() => hub.texts(0).some((p) => p.includes('"leave"')));
  });

  test("a socket that closes while presence is slow is never announced and leaves presence again", async () => {
    const { presence, hub } = slow;
    const before = hub.published.length;
    const m = await member("?name=gone", slow.url);
    await until(() => presence.waiting === 1);
    m.socket.close();
    await new Promise((resolve) => m.socket.addEventListener("close", resolve));
    presence.release();
    await until(() => presence.left.includes("gone"));
    assert.deepEqual(hub.texts(before), []);
    assert.equal(slow.room.size, 0);
  });

  test("close(): members leave at once, the leave notices count down, nothing more is published", async () => {
    const own = await start("/");
    const a = await member("?name=a", own.url);
    const b = await member("?name=b", own.url);
    await until(() => a.received.some((e) => e.type === "join" && e.user === "b"));
    const before = own.hub.published.length;
    await own.room.close();
    assert.deepEqual(
      own.hub.texts(before).map((p) => JSON.parse(p)),
      [
        { type: "leave", user: "a", users: 1, time: 42 },
        { type: "leave", user: "b", users: 0, time: 42 },
      ],
    );
    // The members were unsubscribed first: the notices are for the other processes.
    assert.ok(!a.received.some((e) => e.type === "leave"));
    await own.server.close();
    assert.equal(own.hub.published.length, before + 2, "no notice when the sockets then close");
    assert.equal(b.socket.readyState, WebSocket.CLOSED);
  });

  test("binary, malformed JSON shapes and over-long text get an error to the sender and are not broadcast", async () => {
    const m = await member("?name=err");
    // (Its join notice may be summed up with the earlier tests' notices: wait for the welcome.)
    await until(() => m.received.some((e) => e.type === "welcome"));
    const hub = started.hub;
    const before = hub.published.length;
    m.socket.send(new Uint8Array([1, 2]));
    m.socket.send('{"type":"message","text":5}');
    m.socket.send("x".repeat(11));
    m.socket.send("   ");
    await until(() => m.received.filter((e) => e.type === "error").length === 3);
    assert.deepEqual(
      m.received.filter((e) => e.type === "error").map((e) => e.error),
      [
        "binary messages are not supported in the chat; send text",
        'expected {"type":"message","text":"…"} or a line of text',
        "message too long: 11 characters, at most 10",
      ],
    );
    assert.deepEqual(
      hub.texts(before).filter((p) => !p.includes('"leave"')),
      [],
    );
    m.socket.close();
  });
});

/** A hub whose adapter never answers, as with a frozen Redis. */
class StuckHub extends RecordingHub {
  override adapterSettled(): Promise<void> {
    return new Promise(() => {});
  }
}

/** A hub whose adapter answers only when the test says so (each shut() starts a new wait). */
class GatedHub extends RecordingHub {
  waiting = 0;
  private release = () => {};
  private gate = Promise.resolve();
  override adapterSettled(): Promise<void> {
    this.waiting++;
    return this.gate;
  }
  shut(): void {
    this.gate = new Promise<void>((resolve) => (this.release = resolve));
  }
  open(): void {
    this.release();
  }
}

/** Waits for a client's welcome (or refusal) and returns the event. */
async function welcomed(m: { received: Record<string, unknown>[] }): Promise<Record<string, unknown>> {
  await until(() => m.received.some((e) => e.type === "welcome" || e.type === "error"));
  return m.received.find((e) => e.type === "welcome" || e.type === "error") as Record<string, unknown>;
}

describe("ChatRoom: impersonation, forged lines, floods (issue 22 items 5 and 7)", () => {
  test("names that look alike are one name: case, NFKC, Cyrillic look-alikes, fillers, the server's -N suffix", async () => {
    const own = await start("/");
    try {
      const asked = [
        "alice",
        "Alice",
        "ALICE",
        "\u0430lice", // Cyrillic а
        "alice\u3164", // + HANGUL FILLER
        "\uff41lice", // fullwidth ａ (NFKC: a)
        "alice-2", // the server's suffix form
        "al\u200bice", // + ZERO WIDTH SPACE
      ];
      const users: string[] = [];
      for (const name of asked) {
        const m = await member(`?name=${encodeURIComponent(name)}`, own.url);
        users.push(String((await welcomed(m)).user));
      }
      assert.deepEqual(users, [
        "alice",
        "Alice-2",
        "ALICE-3",
        "\u0430lice-4",
        "alice-5",
        "alice-6",
        "alice-7",
        "alice-8",
      ]);
      // A name of only fillers is no name: a guest name.
      const filler = await member(`?name=${encodeURIComponent("\u3164\u3164\u115f")}`, own.url);
      assert.match(String((await welcomed(filler)).user), /^guest-\d+$/);
      // A guest name cannot be claimed either: `guest-1` asked for is `guest`, then guest-2… by key.
      const guest = await member("?name=guest-1", own.url);
      assert.equal((await welcomed(guest)).user, "guest");
    } finally {
      await own.server.close();
    }
  });

  test("message text: controls and bidi overrides stripped, no forged lines, invisible-only text dropped, emoji ZWJ kept", async () => {
    const own = await start("/", undefined, { maxTextLength: 100 });
    try {
      const m = await member("?name=eve", own.url);
      await welcomed(m);
      await until(() => own.hub.texts(0).some((p) => p.includes('"join"')));
      const before = own.hub.published.length;
      const family = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";
      for (const text of [
        "hi\nbob: I am bob",
        "\u202eevil\u202c",
        "\u200b\u200b",
        "\u3164",
        "a\u0007b\u001b[2Jc",
        family,
        "last",
      ]) {
        m.socket.send(JSON.stringify({ type: "message", text }));
      }
      await until(() => own.hub.texts(before).some((p) => p.includes('"last"')));
      assert.deepEqual(
        own.hub.texts(before).map((p) => JSON.parse(p).text),
        ["hi bob: I am bob", "evil", "ab[2Jc", family, "last"],
      );
    } finally {
      await own.server.close();
    }
  });

  test("join and leave notices past noticesPerWindow are summed up in one presence notice", async () => {
    const own = await start("/", undefined, { noticesPerWindow: 3, noticeWindowMs: 3000 });
    try {
      const first = await member("?name=m0", own.url);
      await welcomed(first);
      const others = await Promise.all(
        Array.from({ length: 7 }, (_, i) => member(`?name=m${i + 1}`, own.url)),
      );
      for (const m of others) await welcomed(m);
      await until(() => first.received.some((e) => e.type === "presence"), 6000);
      const notices = first.received.filter((e) => e.type === "join" || e.type === "presence");
      // Three by name, then one summary for the other five, with the count after them all.
      assert.equal(notices.filter((e) => e.type === "join").length, 3);
      assert.deepEqual(
        notices.filter((e) => e.type === "presence"),
        [{ type: "presence", joined: 5, left: 0, users: 8, time: 42 }],
      );
      assert.equal(own.hub.published.length, 4);
      for (const m of [first, ...others]) m.socket.close();
    } finally {
      await own.server.close();
    }
  });

  test("more members than maxMembersPerAddress from one address: an error and close 4008; a slot frees on leave", async () => {
    const own = await start("/", undefined, { maxMembersPerAddress: 2 });
    try {
      const a = await member("?name=a", own.url);
      const b = await member("?name=b", own.url);
      await welcomed(a);
      await welcomed(b);
      const c = await member("?name=c", own.url);
      const closed = new Promise<{ code: number }>((resolve) => c.socket.addEventListener("close", resolve));
      assert.deepEqual(await welcomed(c), {
        type: "error",
        error: "too many chat members from your address (at most 2)",
      });
      assert.equal((await closed).code, 4008);
      a.socket.close();
      await new Promise((resolve) => a.socket.addEventListener("close", resolve));
      const d = await member("?name=d", own.url);
      assert.equal((await welcomed(d)).user, "d");
      for (const m of [b, d]) m.socket.close();
    } finally {
      await own.server.close();
    }
  });

  test("the first member here is welcomed once the adapter confirms the room's subscription; later ones at once", async () => {
    // Before, the welcome went out at once: a member could answer it, and a line said in another process
    // reach Redis, before this process's subscribe did, and that line never reached the joiner.
    const hub = new GatedHub();
    hub.shut();
    const own = await start("/", undefined, {}, hub);
    try {
      const first = await member("?name=first", own.url);
      await until(() => hub.waiting > 0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.deepEqual(first.received, [], "nothing before the subscription is confirmed");
      hub.open();
      assert.equal((await welcomed(first)).user, "first");
      // The room is open in this process: a later member does not wait on the adapter (which now would
      // not answer), and its welcome is its first message.
      hub.shut();
      const second = await member("?name=second", own.url);
      assert.equal((await welcomed(second)).user, "second");
      assert.equal(second.received[0].type, "welcome");
      first.socket.close();
      second.socket.close();
    } finally {
      hub.open();
      await own.server.close();
    }
  });

  test("an adapter that never answers does not hold a join: it is announced after adapterWaitMs", async () => {
    const own = await start("/", undefined, { adapterWaitMs: 200 }, new StuckHub());
    try {
      const m = await member("?name=stuck", own.url);
      await until(() => m.received.some((e) => e.type === "join"));
      assert.deepEqual(
        m.received.map((e) => e.type),
        ["welcome", "join"],
      );
      m.socket.close();
    } finally {
      await own.server.close();
    }
  });
});
