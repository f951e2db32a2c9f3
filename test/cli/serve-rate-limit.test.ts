import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { clientFrame, OP, parseFrame, RawClient, type ServerFrame } from "../server/helpers.js";
import { killAll, run, serve } from "./helpers.js";

// `sockjet serve` limits the rate of every chat connection by default (the library does not): 100 frames/s
// with bursts of 200 and 1 MiB/s, pausing a faster peer; the echo endpoint is limited only by a flag (it is
// where Autobahn and `sockjet bench` go). The flags change or lift the limits.

after(killAll);

/** Frames the raw client has received so far (taken off its buffer). */
function takeFrames(raw: RawClient): ServerFrame[] {
  const frames: ServerFrame[] = [];
  for (let frame = parseFrame(raw.buffer); frame !== null; frame = parseFrame(raw.buffer)) {
    raw.buffer = raw.buffer.subarray(frame.size);
    frames.push(frame);
  }
  return frames;
}

function pings(count: number): Buffer {
  const ping = clientFrame(OP.ping, "");
  return Buffer.concat(Array.from({ length: count }, () => ping));
}

describe("sockjet serve rate limits", () => {
  test("by default a ping flood to the chat is slowed to the limit: at most 200 + 100/s pongs, the connection stays open", async (t) => {
    const served = await serve(["--quiet"]);
    const raw = await RawClient.connect(t, served.port);
    await raw.handshake("/chat", { "Sec-WebSocket-Protocol": "chat" });
    const started = performance.now();
    raw.write(pings(20_000));
    const received: ServerFrame[] = [];
    const pongCount = () => {
      received.push(...takeFrames(raw));
      return received.filter((f) => f.opcode === OP.pong).length;
    };
    await raw.until(() => pongCount() >= 200, 5000, "the burst of pongs");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const elapsed = performance.now() - started;
    pongCount();
    const frames = received.filter((f) => f.opcode === OP.pong);
    assert.ok(
      frames.length <= 200 + (100 * elapsed) / 1000 + 1,
      `${frames.length} pongs in ${elapsed.toFixed(0)} ms`,
    );
    assert.equal(raw.eof, false, "the connection was closed");
  });

  test("--on-rate-limit close: past --rate-limit/--rate-burst the chat closes the flooder with 1008 and a reason", async (t) => {
    const served = await serve([
      "--quiet",
      "--rate-limit",
      "5",
      "--rate-burst",
      "10",
      "--on-rate-limit",
      "close",
    ]);
    const raw = await RawClient.connect(t, served.port);
    await raw.handshake("/chat", { "Sec-WebSocket-Protocol": "chat" });
    raw.write(pings(1000));
    await raw.expectEof(5000);
    const frames = takeFrames(raw);
    const close = frames.at(-1)!;
    assert.equal(close.opcode, OP.close);
    assert.equal(close.closeCode, 1008);
    assert.equal(close.payload.subarray(2).toString(), "rate limit exceeded (5 frames/s, 1048576 bytes/s)");
    assert.ok(frames.filter((f) => f.opcode === OP.pong).length <= 11);
  });

  test("the echo endpoint is not limited by default: 5,000 pings are all answered at once", async (t) => {
    const served = await serve(["--quiet"]);
    const raw = await RawClient.connect(t, served.port);
    await raw.handshake("/");
    raw.write(pings(5000));
    await raw.until(() => raw.buffer.length >= 2 * 5000, 5000, "5,000 pongs");
  });

  test("--rate-limit 5 limits the echo endpoint too", async (t) => {
    const served = await serve(["--quiet", "--rate-limit", "5", "--rate-burst", "10"]);
    const raw = await RawClient.connect(t, served.port);
    await raw.handshake("/");
    raw.write(pings(1000));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const pongs = takeFrames(raw).filter((f) => f.opcode === OP.pong).length;
    assert.ok(pongs >= 10 && pongs <= 10 + 5, `${pongs} pongs in 0.5 s`);
  });

  test("--rate-limit 0 --byte-rate 0 lifts the limits: 5,000 pings are all answered at once", async (t) => {
    const served = await serve(["--quiet", "--rate-limit", "0", "--byte-rate", "0"]);
    const raw = await RawClient.connect(t, served.port);
    await raw.handshake("/chat", { "Sec-WebSocket-Protocol": "chat" });
    raw.write(pings(5000));
    const received: ServerFrame[] = [];
    await raw.until(
      () => {
        received.push(...takeFrames(raw));
        return received.filter((f) => f.opcode === OP.pong).length >= 5000;
      },
      5000,
      "5,000 pongs from the chat",
    );
  });

  test("bad values are usage errors (exit status 2)", async () => {
    for (const args of [
      ["--rate-limit", "-1"],
      ["--rate-limit", "fast"],
      ["--byte-rate", "lots"],
      ["--on-rate-limit", "drop"],
    ]) {
      const result = await run(["serve", ...args]);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    }
  });
});
