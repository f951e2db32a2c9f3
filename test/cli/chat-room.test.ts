import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type ChatBus, ChatRoom } from "../../src/cli/chat-room.js";
import { WebSocket, WebSocketServer } from "../../src/index.js";

// The room logic on an in-process server, with a bus that records what it carries (the seam a Redis
// pub/sub adapter plugs into).

class RecordingBus implements ChatBus {
  readonly published: string[] = [];
  private deliver: ((payload: string) => void) | null = null;
  publish(payload: string): void {
    this.published.push(payload);
    this.deliver?.(payload);
  }
  subscribe(deliver: (payload: string) => void): void {
    this.deliver = deliver;
  }
  /** A publish from another process. */
  fromElsewhere(payload: string): void {
    this.deliver?.(payload);
  }
  async close(): Promise<void> {}
}

let server: WebSocketServer;
let bus: RecordingBus;
let url: string;
before(async () => {
  bus = new RecordingBus();
  const room = new ChatRoom({ bus, maxTextLength: 10, now: () => 42 });
  server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  server.on("connection", (socket, request) =>
    room.join(socket, new URL(request.url ?? "/", "http://x").searchParams.get("name")),
  );
  await new Promise<void>((resolve) => server.once("listening", resolve));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
after(() => server.close());

/** A client that collects the parsed events it receives. */
async function member(query: string): Promise<{ socket: WebSocket; received: Record<string, unknown>[] }> {
  const socket = new WebSocket(`${url}${query}`);
  const received: Record<string, unknown>[] = [];
  socket.addEventListener("message", (event) => received.push(JSON.parse(event.data)));
  await new Promise((resolve) => socket.addEventListener("open", resolve));
  return { socket, received };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(check(), "condition not reached within 2 s");
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

  test("every broadcast goes through the bus, serialized once; a publish from elsewhere reaches members", async () => {
    const m = await member("?name=zed");
    await until(() => m.received.some((e) => e.type === "join" && e.user === "zed"));
    const before = bus.published.length;
    m.socket.send("hello");
    await until(() => bus.published.slice(before).some((p) => p.includes('"text"')));
    assert.deepEqual(
      bus.published.slice(before).filter((p) => p.includes('"text"')),
      ['{"type":"message","user":"zed","text":"hello","time":42}'],
    );
    bus.fromElsewhere('{"type":"message","user":"remote","text":"hi","time":1}');
    await until(() => m.received.some((e) => e.user === "remote"));
    m.socket.close();
  });

  test("binary, malformed JSON shapes and over-long text get an error to the sender and are not broadcast", async () => {
    const m = await member("?name=err");
    await until(() => m.received.some((e) => e.type === "join"));
    const before = bus.published.length;
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
      bus.published.slice(before).filter((p) => !p.includes('"leave"')),
      [],
    );
    m.socket.close();
  });
});
