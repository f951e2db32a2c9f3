import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { clientFrame, OP, parseFrame, RawClient } from "../server/helpers.js";
import { killAll, serve } from "./helpers.js";

// The echo endpoint of `sockjet serve` is unlimited unless a rate flag is given, and then "the flags apply to
// both" (README): any rate flag, not only --rate-limit or --byte-rate. Before, --rate-burst or
// --on-rate-limit alone left the echo unlimited.

after(killAll);

function pings(count: number): Buffer {
  const ping = clientFrame(OP.ping, "");
  return Buffer.concat(Array.from({ length: count }, () => ping));
}

describe("sockjet serve: a rate flag alone limits the echo endpoint too", () => {
  test("--rate-burst 5: a flood of 1,000 pings to / gets at most 5 + 100/s pongs", async (t) => {
    const served = await serve(["--quiet", "--rate-burst", "5"]);
    const raw = await RawClient.connect(t, served.port);
    await raw.handshake("/");
    const started = performance.now();
    raw.write(pings(1000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const elapsed = performance.now() - started;
    let pongs = 0;
    for (let frame = parseFrame(raw.buffer); frame !== null; frame = parseFrame(raw.buffer)) {
      raw.buffer = raw.buffer.subarray(frame.size);
      if (frame.opcode === OP.pong) pongs++;
    }
    assert.ok(pongs >= 5, `${pongs} pongs`);
    assert.ok(pongs <= 5 + (100 * elapsed) / 1000 + 1, `${pongs} pongs in ${elapsed.toFixed(0)} ms`);
    assert.equal(raw.eof, false, "paused, not closed");
  });

  test("--on-rate-limit close: a flood of 1,000 pings to / is closed with 1008 'rate limit exceeded…'", async (t) => {
    const served = await serve(["--quiet", "--on-rate-limit", "close"]);
    const raw = await RawClient.connect(t, served.port);
    await raw.handshake("/");
    raw.write(pings(1000));
    await raw.until(() => raw.eof, 5000, "the server to close");
    let close = null;
    for (let frame = parseFrame(raw.buffer); frame !== null; frame = parseFrame(raw.buffer)) {
      raw.buffer = raw.buffer.subarray(frame.size);
      if (frame.opcode === OP.close) close = frame;
    }
    assert.ok(close !== null, "a Close frame");
    assert.equal(close.closeCode, 1008);
    assert.match(close.payload.subarray(2).toString(), /^rate limit exceeded/);
  });
});
