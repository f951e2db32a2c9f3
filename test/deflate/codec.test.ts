import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { constants, deflateRawSync } from "node:zlib";
import { ProtocolError } from "../../src/protocol/errors.js";
import { pooledEngineCount } from "../../src/protocol/permessage-deflate/zlib-engine.js";
import { setZlibConcurrency, zlibSlotUsage } from "../../src/protocol/permessage-deflate/zlib-slots.js";
import {
  codec,
  decode,
  encode,
  jsonMessage,
  mixedPayload,
  ReferenceInflater,
  referenceCompress,
  referenceDecompress,
  until,
} from "./helpers.js";

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ""), "hex");
setFlagsFromString("--expose-gc");
/** A full garbage collection (this file measures memory held, not garbage not yet collected). */
const collect = runInNewContext("gc") as () => void;

describe("RFC 7692 §7.2.3 examples, decompressed", () => {
  test("§7.2.3.1 'Hello' in one compressed block: f2 48 cd c9 c9 07 00", async () => {
    const c = codec();
    assert.equal((await decode(c, [hex("f2 48 cd c9 c9 07 00")])).toString(), "Hello");
    c.dispose();
  });

  test("§7.2.3.1 the same message in two fragments: f2 48 cd | c9 c9 07 00", async () => {
    const c = codec();
    assert.equal((await decode(c, [hex("f2 48 cd"), hex("c9 c9 07 00")])).toString(), "Hello");
    c.dispose();
  });

  test("§7.2.3.2 sharing the window: the second 'Hello' is f2 00 11 00 00", async () => {
    const c = codec();
    assert.equal((await decode(c, [hex("f2 48 cd c9 c9 07 00")])).toString(), "Hello");
    assert.equal((await decode(c, [hex("f2 00 11 00 00")])).toString(), "Hello");
    c.dispose();
  });

  test("§7.2.3.3 a stored (uncompressed) block: 00 05 00 fa ff 48 65 6c 6c 6f 00", async () => {
    const c = codec();
    assert.equal((await decode(c, [hex("00 05 00 fa ff 48 65 6c 6c 6f 00")])).toString(), "Hello");
    c.dispose();
  });

  test("§7.2.3.4 a block with BFINAL set: decoded, and the next message still refers back into it (§7.2.2)", async () => {
    const c = codec();
    assert.equal((await decode(c, [hex("f3 48 cd c9 c9 07 00 00")])).toString(), "Hello");
    // §7.2.3.2's second message: a back-reference to the first "Hello", whose stream had ended.
    assert.equal((await decode(c, [hex("f2 00 11 00 00")])).toString(), "Hello");
    assert.equal((await decode(c, [hex("f3 48 cd c9 c9 07 00")])).toString(), "Hello");
    assert.equal((await decode(c, [hex("f2 00 11 00 00")])).toString(), "Hello");
    c.dispose();
  });

  test("messages that end their stream (BFINAL) among ordinary ones, each referring back across both (windows 8–15)", async () => {
    for (const windowBits of [8, 9, 11, 15]) {
      const c = codec({ decompressWindowBits: windowBits });
      const size = 1 << windowBits;
      let sent = Buffer.alloc(0);
      const blocks: Buffer[] = [];
      let seed = windowBits;
      const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let i = 0; i < 40; i++) {
        // Fresh bytes, then a copy of an earlier message's fresh bytes (found only there: a back-reference
        // that may reach across several messages, BFINAL ones and ordinary ones).
        const fresh = randomBytes(40 + Math.floor(random() * 200));
        // Message 6 refers to message 0, from before the first BFINAL message (5).
        const pick = i === 6 ? 0 : Math.floor(random() * blocks.length);
        const earlier = blocks.length === 0 ? Buffer.alloc(0) : blocks[pick]!;
        blocks.push(fresh);
        const message = Buffer.concat([fresh, earlier]);
        const dictionary = sent.subarray(Math.max(0, sent.length - size));
        // zlib deflates with a window of 9 bits at least; its matches then reach 250 bytes back at most.
        const options = {
          windowBits: Math.max(9, windowBits),
          ...(dictionary.length > 0 ? { dictionary } : {}),
        };
        // Five ordinary messages first: a window the first BFINAL message alone would not hold.
        const final = i === 5 || (i > 5 && random() < 0.4);
        const payload = final
          ? deflateRawSync(message, options)
          : deflateRawSync(message, { ...options, finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
        assert.equal(
          (await decode(c, [payload])).toString("hex"),
          message.toString("hex"),
          `message ${i} (${windowBits} bits)`,
        );
        sent = Buffer.concat([sent, message]);
      }
      c.dispose();
    }
  });

  test("§7.2.3.5 two DEFLATE blocks in one message: f2 48 05 00 00 00 ff ff ca c9 c9 07 00", async () => {
    const c = codec();
    assert.equal((await decode(c, [hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")])).toString(), "Hello");
    c.dispose();
  });

  test("§7.2.3.6 an empty last fragment: f2 48 cd c9 c9 07 00 00 00 ff ff | 00", async () => {
    const c = codec();
    assert.equal((await decode(c, [hex("f2 48 cd c9 c9 07 00 00 00 ff ff"), hex("00")])).toString(), "Hello");
    c.dispose();
  });

  test("an empty message (00) decodes to nothing, and so does a zero-length payload, without disturbing the window", async () => {
    const c = codec();
    assert.equal((await decode(c, [hex("f2 48 cd c9 c9 07 00")])).toString(), "Hello");
    assert.equal((await decode(c, [hex("00")])).length, 0);
    // Fed to zlib, 00 00 ff ff alone would open a 65,280-byte stored block and swallow the next message.
    assert.equal((await decode(c, [])).length, 0);
    assert.equal((await decode(c, [hex("f2 00 11 00 00")])).toString(), "Hello");
    c.dispose();
  });
});

describe("RFC 7692 §7.2.1 compression", () => {
  test("'Hello' compresses to f2 48 cd c9 c9 07 00 (tail 00 00 ff ff removed), then f2 00 11 00 00 with the shared window", async () => {
    const c = codec();
    assert.equal((await encode(c, Buffer.from("Hello"))).toString("hex"), "f248cdc9c90700");
    assert.equal((await encode(c, Buffer.from("Hello"))).toString("hex"), "f200110000");
    c.dispose();
  });

  test("with no context takeover every 'Hello' is f2 48 cd c9 c9 07 00", async () => {
    const c = codec({ compressNoContextTakeover: true });
    for (let i = 0; i < 3; i++)
      assert.equal((await encode(c, Buffer.from("Hello"))).toString("hex"), "f248cdc9c90700");
    c.dispose();
  });

  test("an empty message compresses to the single byte 00, also right after another message", async () => {
    const c = codec();
    assert.equal((await encode(c, Buffer.alloc(0))).toString("hex"), "00");
    assert.equal((await encode(c, Buffer.from("Hello"))).toString("hex"), "f248cdc9c90700");
    assert.equal((await encode(c, Buffer.alloc(0))).toString("hex"), "00");
    assert.equal((await encode(c, Buffer.from("Hello"))).toString("hex"), "f200110000");
    c.dispose();
  });

  test("shouldTransform: messages below thresholdBytes go out uncompressed", () => {
    const c = codec({ thresholdBytes: 100 });
    assert.equal(c.shouldTransform(99), false);
    assert.equal(c.shouldTransform(100), true);
    c.dispose();
  });
});

describe("RFC 7692 §7.1.2 window bits 8..15 and §7.1.1 context takeover: round trips", () => {
  const messages = Array.from({ length: 40 }, (_, i) => mixedPayload(i));
  for (const bits of [8, 9, 10, 11, 12, 13, 14, 15]) {
    test(`window ${bits} bits, context takeover: codec → codec and codec → zlib inflater of ${bits} bits`, async () => {
      const sender = codec({ compressWindowBits: bits });
      const receiver = codec({ decompressWindowBits: bits });
      const reference = new ReferenceInflater(bits);
      try {
        for (const message of messages) {
          const compressed = await encode(sender, message);
          assert.ok((await decode(receiver, [compressed])).equals(message));
          assert.ok((await reference.inflate(compressed)).equals(message));
        }
      } finally {
        sender.dispose();
        receiver.dispose();
        reference.close();
      }
    });

    test(`window ${bits} bits, no context takeover: every message decodes alone with a fresh ${bits}-bit window`, async () => {
      const sender = codec({ compressWindowBits: bits, compressNoContextTakeover: true });
      const receiver = codec({ decompressWindowBits: bits, decompressNoContextTakeover: true });
      try {
        for (const message of messages) {
          const compressed = await encode(sender, message);
          assert.ok(referenceDecompress(compressed, bits).equals(message));
          assert.ok((await decode(receiver, [compressed])).equals(message));
        }
      } finally {
        sender.dispose();
        receiver.dispose();
      }
    });
  }

  test("window 8: zlib compresses with 9, whose matches reach at most 250 bytes back, so a 256-byte window decodes it", async () => {
    // Text whose repeats sit at every distance from 1 to 600 bytes: a 512-byte window would use the far ones.
    const parts: string[] = [];
    for (let d = 1; d < 600; d += 7)
      parts.push(`${"x".repeat(d % 13)}${d}:${"abcdefghijklmnopqrstuvwxyz".slice(0, d % 26)}`);
    const payload = Buffer.from(parts.join("|").repeat(20));
    const sender = codec({ compressWindowBits: 8, level: 9, memLevel: 9 });
    const reference = new ReferenceInflater(8);
    try {
      for (let i = 0; i < 5; i++)
        assert.ok((await reference.inflate(await encode(sender, payload))).equals(payload));
    } finally {
      sender.dispose();
      reference.close();
    }
  });

  test("with context takeover, a repeated 1 KiB JSON message shrinks to a few bytes; without, it does not", async () => {
    const message = jsonMessage(1);
    const keep = codec();
    const fresh = codec({ compressNoContextTakeover: true });
    const first = await encode(keep, message);
    const second = await encode(keep, message);
    const alone = await encode(fresh, message);
    const aloneAgain = await encode(fresh, message);
    keep.dispose();
    fresh.dispose();
    assert.ok(second.length < 40, `second copy with the shared window: ${second.length} bytes`);
    assert.equal(alone.length, first.length);
    assert.ok(aloneAgain.equals(alone));
  });

  test("a message compressed against the window does not decode with a fresh one (the receiver really keeps context)", async () => {
    const sender = codec();
    const message = jsonMessage(2, 2000);
    await encode(sender, message);
    const second = await encode(sender, message);
    sender.dispose();
    assert.throws(() => referenceDecompress(second));
    const fresh = codec({ decompressNoContextTakeover: true });
    await assert.rejects(
      decode(fresh, [second]),
      (e: unknown) => e instanceof ProtocolError && e.closeCode === 1007,
    );
    fresh.dispose();
  });

  test("large messages: 8 MiB of text and 4 MiB of random bytes round-trip, also as many fragments", async () => {
    const text = Buffer.from(
      Array.from({ length: (8 * 1024 * 1024) / 64 }, (_, i) =>
        `${i.toString(36).padStart(8, "0")}-line of text that repeats-ish\n`.padEnd(64, "."),
      ).join(""),
    );
    const random = randomBytes(4 * 1024 * 1024);
    const sender = codec();
    const receiver = codec();
    try {
      for (const message of [text, random]) {
        const compressed = await encode(sender, message);
        const fragments: Buffer[] = [];
        for (let at = 0; at < compressed.length; at += 100_003)
          fragments.push(compressed.subarray(at, at + 100_003));
        assert.ok((await decode(receiver, fragments)).equals(message));
      }
    } finally {
      sender.dispose();
      receiver.dispose();
    }
  });
});

describe("bounded inflate (RFC 6455 §10.4, §7.4.1 1009)", () => {
  test("output of exactly maxBytes is delivered; maxBytes − 1 fails with SJ_ERR_MESSAGE_TOO_BIG / 1009", async () => {
    const message = jsonMessage(3, 50_000);
    const compressed = referenceCompress(message);
    const ok = codec();
    assert.equal((await decode(ok, [compressed], message.length)).length, message.length);
    ok.dispose();
    const tight = codec();
    await assert.rejects(decode(tight, [compressed], message.length - 1), (e: unknown) => {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.code, "SJ_ERR_MESSAGE_TOO_BIG");
      assert.equal(e.closeCode, 1009);
      return true;
    });
    tight.dispose();
  });

  test("a 256 KiB message that inflates to 256 MiB stops at a 16 MiB limit: peak memory growth stays below 2× the limit", async () => {
    const limit = 16 * 1024 * 1024;
    const bomb = referenceCompress(Buffer.alloc(256 * 1024 * 1024));
    assert.ok(bomb.length < 300 * 1024, `bomb is ${bomb.length} bytes`);
    global.gc?.();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakBuffers = before.arrayBuffers;
    const sampler = setInterval(() => {
      const now = process.memoryUsage();
      peakRss = Math.max(peakRss, now.rss);
      peakBuffers = Math.max(peakBuffers, now.arrayBuffers);
    }, 1);
    const c = codec();
    const started = Date.now();
    try {
      await assert.rejects(
        decode(c, [bomb], limit),
        (e: unknown) => e instanceof ProtocolError && e.closeCode === 1009,
      );
    } finally {
      clearInterval(sampler);
      c.dispose();
    }
    const after = process.memoryUsage();
    peakRss = Math.max(peakRss, after.rss);
    peakBuffers = Math.max(peakBuffers, after.arrayBuffers);
    const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    assert.ok(peakRss - before.rss < 2 * limit, `RSS grew ${mib(peakRss - before.rss)}`);
    assert.ok(
      peakBuffers - before.arrayBuffers < 2 * limit,
      `arrayBuffers grew ${mib(peakBuffers - before.arrayBuffers)}`,
    );
    // Inflating all 256 MiB would take far longer than stopping at 16.
    assert.ok(Date.now() - started < 5000);
  });
});

describe("RFC 7692 §7.2.1: blocks after a block with BFINAL set belong to the message", () => {
  const flushed = (data: string | Buffer, dictionary?: Buffer) =>
    deflateRawSync(data, {
      finishFlush: constants.Z_SYNC_FLUSH,
      ...(dictionary ? { dictionary } : {}),
    }).subarray(0, -4);

  test("with context takeover, the next message refers back across both streams of one (the window keeps them)", async () => {
    const c = codec();
    const a = Buffer.from("first stream, ended by a final block; ");
    const b = Buffer.from("second stream of the same message");
    assert.equal((await decode(c, [deflateRawSync(a), flushed(b)])).toString(), `${a}${b}`);
    const again = flushed(Buffer.concat([a, b]), Buffer.concat([a, b]));
    assert.ok(again.length < 20, "the next message is back-references");
    assert.equal((await decode(c, [again])).toString(), `${a}${b}`);
    c.dispose();
  });

  test("without context takeover, a stream with the message's bytes as its window is never pooled for another connection", async () => {
    const secret = Buffer.from("one connection's bytes, which no other connection may decode against");
    const c = codec({ decompressNoContextTakeover: true });
    const message = Buffer.concat([deflateRawSync(secret), flushed(Buffer.from(secret), secret)]);
    assert.equal((await decode(c, [message])).toString(), `${secret}${secret}`);
    // A pooled stream that kept that window would decode this; a clean one finds nothing to refer to.
    const other = codec({ decompressNoContextTakeover: true });
    await assert.rejects(decode(other, [flushed(secret, secret)]), (e: unknown) => {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.closeCode, 1007);
      return true;
    });
    c.dispose();
    other.dispose();
  });

  test("up to 4 streams, plus one per 4 KiB of compressed payload, are inflated; one more fails with 1009", async () => {
    const c = codec();
    // 03 00: an empty block with fixed codes and BFINAL set.
    assert.equal((await decode(c, [hex("0300".repeat(4))])).length, 0);
    await assert.rejects(decode(c, [hex("0300".repeat(5))]), (e: unknown) => {
      assert.ok(e instanceof ProtocolError);
      assert.equal(e.code, "SJ_ERR_MESSAGE_TOO_BIG");
      assert.equal(e.closeCode, 1009);
      assert.match(e.message, /more than 4 DEFLATE streams/);
      return true;
    });
    c.dispose();
    // A final stored block of 4,100 random bytes (4,105 on the wire), then empty ones: 4 + 1 streams fit,
    // 4 + 2 do not.
    const random = randomBytes(4100);
    const stored = deflateRawSync(random, { level: 0 });
    const d = codec();
    assert.ok((await decode(d, [stored, hex("0300".repeat(4))])).equals(random));
    await assert.rejects(decode(d, [stored, hex("0300".repeat(5))]), /more than 5 DEFLATE streams/);
    d.dispose();
  });

  for (const decompressNoContextTakeover of [false, true]) {
    test(`streams of a few bytes each do not hold zlib's 16 KiB chunks while the message inflates (review 150; context takeover ${!decompressNoContextTakeover})`, async () => {
      // 2,000 streams of 4,096 wire bytes: 817 empty stored blocks, then a final one with 6 bytes. Their output
      // (12,000 bytes) was kept as views of 16 KiB chunks until the message ended: 33 MB held for 12 KB.
      const empties = Buffer.from("000000ffff".repeat(817), "hex");
      const stream = Buffer.concat([empties, hex("01 0600 f9ff"), randomBytes(6)]);
      assert.equal(stream.length, 4096);
      const payload = Buffer.concat(Array.from({ length: 2000 }, () => stream));
      const c = codec({ decompressNoContextTakeover });
      // Live memory only: each stream's output chunk is garbage once copied out, which arrayBuffers counts
      // until a GC runs; a full GC before each reading leaves what is held.
      collect();
      const base = process.memoryUsage().arrayBuffers;
      let peak = base;
      const sampler = setInterval(() => {
        collect();
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      }, 5);
      const output = await decode(c, [payload], 1 << 20);
      clearInterval(sampler);
      c.dispose();
      assert.equal(output.length, 12000);
      // What may be held: one copy of the payload after the first stream (its bytes and our tail, joined), and
      // a few MB; not 16 KiB per stream (33 MB).
      const held = peak - base;
      assert.ok(
        held < payload.length + 4e6,
        `${(held / 1e6).toFixed(1)} MB held while inflating 12,000 bytes`,
      );
    });
  }
});

describe("invalid compressed data fails with 1007 (RFC 6455 §7.4.1: data not consistent with the message type)", () => {
  const cases: [string, Buffer[]][] = [
    ["reserved block type 11", [hex("ff ff ff ff")]],
    ["a stored block whose LEN/NLEN do not match", [hex("00 05 00 00 00 48 65 6c 6c 6f")]],
    ["a distance beyond the data seen so far", [hex("f2 00 11 00 00")]],
    ["garbage split over fragments", [hex("07"), hex("ff ee dd")]],
  ];
  for (const [name, fragments] of cases) {
    test(`${name} → ProtocolError SJ_ERR_INVALID_COMPRESSED_DATA, close code 1007`, async () => {
      const c = codec();
      await assert.rejects(decode(c, fragments), (e: unknown) => {
        assert.ok(e instanceof ProtocolError);
        assert.equal(e.code, "SJ_ERR_INVALID_COMPRESSED_DATA");
        assert.equal(e.closeCode, 1007);
        return true;
      });
      c.dispose();
    });
  }
});

describe("zlib concurrency cap and lifecycle", () => {
  test("with the cap at 2, 30 connections compressing at once never run more than 2 zlib jobs; all complete", async () => {
    setZlibConcurrency(2);
    try {
      const codecs = Array.from({ length: 30 }, () => codec());
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, zlibSlotUsage().active);
      }, 0);
      const payload = Buffer.from("some compressible text ".repeat(20_000));
      const jobs = codecs.map(async (c) => {
        const out = await encode(c, payload);
        peak = Math.max(peak, zlibSlotUsage().active);
        return out;
      });
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(zlibSlotUsage().active, 2);
      assert.ok(zlibSlotUsage().waiting >= 20, `waiting: ${zlibSlotUsage().waiting}`);
      const outputs = await Promise.all(jobs);
      clearInterval(sampler);
      for (const out of outputs) assert.ok(referenceDecompress(out).equals(payload));
      assert.ok(peak <= 2, `peak ${peak}`);
      for (const c of codecs) c.dispose();
    } finally {
      setZlibConcurrency(10);
    }
    assert.deepEqual(zlibSlotUsage(), { active: 0, waiting: 0, limit: 10 });
  });

  test("dispose() during a job: no callback afterwards, the slot is given back, other connections go on", async () => {
    const c = codec();
    let called = false;
    c.decode([referenceCompress(Buffer.alloc(64 * 1024 * 1024))], 1 << 30, () => {
      called = true;
    });
    c.encode(Buffer.alloc(1 << 20), () => {
      called = true;
    });
    assert.ok(zlibSlotUsage().active >= 1);
    c.dispose();
    assert.equal(zlibSlotUsage().active, 0);
    const other = codec();
    assert.equal(
      (await decode(other, [referenceCompress(Buffer.from("still works"))])).toString(),
      "still works",
    );
    other.dispose();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(called, false);
  });

  test("dispose() while jobs wait for a slot: they never start and never call back", async () => {
    setZlibConcurrency(1);
    const busy = codec();
    const waiting = codec();
    let called = false;
    try {
      const first = encode(busy, Buffer.alloc(1 << 20));
      waiting.encode(Buffer.from("x".repeat(5000)), () => {
        called = true;
      });
      assert.equal(zlibSlotUsage().waiting, 1);
      waiting.dispose();
      await first;
      await until(
        () => zlibSlotUsage().active === 0 && zlibSlotUsage().waiting === 0,
        2000,
        "slots to drain",
      );
    } finally {
      busy.dispose();
      setZlibConcurrency(10);
    }
    assert.equal(called, false);
  });

  test("no context takeover: zlib streams are shared through a pool, not held by the connection", async () => {
    const payload = jsonMessage(9, 4000);
    const codecs = Array.from({ length: 50 }, () =>
      codec({ compressNoContextTakeover: true, decompressNoContextTakeover: true }),
    );
    for (const c of codecs) {
      const compressed = await encode(c, payload);
      assert.ok((await decode(c, [compressed])).equals(payload));
    }
    // Run one at a time, 50 connections needed only one deflate and one inflate stream.
    assert.ok(pooledEngineCount() >= 2);
    assert.ok(pooledEngineCount() <= 2 * 16);
    for (const c of codecs) c.dispose();
  });

  test("after a 1009 the stopped stream is not pooled: the next connection decodes with a clean one", async () => {
    const c = codec({ decompressNoContextTakeover: true });
    await assert.rejects(decode(c, [referenceCompress(Buffer.alloc(1 << 20))], 1000));
    const fresh = codec({ decompressNoContextTakeover: true });
    assert.equal((await decode(fresh, [referenceCompress(Buffer.from("ok"))])).toString(), "ok");
    c.dispose();
    fresh.dispose();
  });
});
