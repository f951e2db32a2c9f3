// Tools for the hostile-peer tests: a tripwire for unhandled rejections and uncaught exceptions, a prober
// (a well-behaved client that keeps round-tripping messages through the server while it is under attack,
// so "the server keeps serving everyone else" is measured, not assumed), and a memory sampler.

import assert from "node:assert/strict";
import { WebSocket } from "../../src/web/websocket.js";
import { type Cleanup, within } from "./peers.js";

/**
 * Fails the test if anything reaches process 'unhandledRejection' or 'uncaughtException' while it runs
 * (DESIGN.md: never a crash, never an unhandled rejection). node:test would otherwise report them late or
 * attribute them to another test.
 */
export function tripwire(t: Cleanup): { errors: unknown[]; check(): void } {
  const errors: unknown[] = [];
  const onRejection = (reason: unknown) => errors.push(reason);
  const onException = (error: unknown) => errors.push(error);
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  const wire = {
    errors,
    check() {
      assert.deepEqual(
        errors.map((e) => String((e as Error)?.stack ?? e)),
        [],
        "no unhandled rejection or uncaught exception",
      );
    },
  };
  t.after(() => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  });
  return wire;
}

/** A well-behaved client that round-trips a message every `everyMs` and records the round-trip times. */
export class Prober {
  readonly rtts: number[] = [];
  private ws: WebSocket | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sentAt = 0;
  private inFlight = false;
  private seq = 0;
  failures: string[] = [];

  static async start(t: Cleanup, url: string, everyMs = 20): Promise<Prober> {
    const prober = new Prober();
    const ws = new WebSocket(url);
    prober.ws = ws;
    t.after(() => prober.stop());
    await within(
      new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => resolve(), { once: true });
        ws.addEventListener("close", () => reject(new Error("prober could not connect")), { once: true });
      }),
      5000,
      "the prober to connect",
    );
    ws.addEventListener("message", (event) => {
      const expected = `probe ${prober.seq}`;
      if ((event as MessageEvent).data !== expected)
        prober.failures.push(`got ${(event as MessageEvent).data}`);
      prober.rtts.push(performance.now() - prober.sentAt);
      prober.inFlight = false;
    });
    ws.addEventListener("close", (event) => {
      if (prober.timer !== null) prober.failures.push(`prober closed: ${(event as CloseEvent).code}`);
    });
    prober.timer = setInterval(() => prober.tick(), everyMs);
    prober.tick();
    return prober;
  }

  private tick(): void {
    if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.inFlight) return; // the previous one is still out: its RTT will show the delay
    this.inFlight = true;
    this.seq++;
    this.sentAt = performance.now();
    this.ws.send(`probe ${this.seq}`);
  }

  /** One more round trip right now; resolves with its time in ms. */
  async roundTrip(ms = 3000): Promise<number> {
    const before = this.rtts.length;
    const deadline = Date.now() + ms;
    while (this.rtts.length === before) {
      if (Date.now() > deadline) throw new Error(`prober: no echo within ${ms} ms`);
      if (!this.inFlight) this.tick();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return this.rtts[this.rtts.length - 1];
  }

  get maxRtt(): number {
    return this.rtts.reduce((a, b) => Math.max(a, b), 0);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.ws?.terminate();
  }

  /**
   * Asserts the prober kept being served: at least `minCount` echoes, each within `maxRttMs`. The timer's
   * count depends on how long the attack lasted (short on a fast machine, starved on a loaded one), so it is
   * topped up with explicit round trips, each still held to `maxRttMs`.
   */
  async assertServed(minCount: number, maxRttMs: number): Promise<void> {
    assert.deepEqual(this.failures, [], "the well-behaved client saw no error");
    for (let i = 0; i < minCount && this.rtts.length < minCount; i++) await this.roundTrip(maxRttMs + 3000);
    assert.ok(this.rtts.length >= minCount, `only ${this.rtts.length} round trips (want ≥ ${minCount})`);
    assert.ok(
      this.maxRtt < maxRttMs,
      `a round trip took ${this.maxRtt.toFixed(1)} ms (bound ${maxRttMs} ms)`,
    );
  }
}

export interface MemoryFigures {
  /** MiB */
  rssStart: number;
  rssMax: number;
  rssEnd: number;
  /** heapUsed + arrayBuffers growth over the start, MiB (what the attack can make us hold). */
  heldMax: number;
}

const MiB = 1024 * 1024;

/** Samples process.memoryUsage() every `everyMs` until stop(). */
export class MemorySampler {
  private readonly start = process.memoryUsage();
  private rssMax = this.start.rss;
  private heldMax = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(everyMs = 25) {
    this.timer = setInterval(() => this.sample(), everyMs);
    // A failed assertion before stop() must not keep the test process alive.
    this.timer.unref();
  }

  sample(): void {
    const m = process.memoryUsage();
    this.rssMax = Math.max(this.rssMax, m.rss);
    const held = m.heapUsed + m.arrayBuffers - (this.start.heapUsed + this.start.arrayBuffers);
    this.heldMax = Math.max(this.heldMax, held);
  }

  stop(): MemoryFigures {
    this.sample();
    clearInterval(this.timer);
    const end = process.memoryUsage();
    return {
      rssStart: this.start.rss / MiB,
      rssMax: this.rssMax / MiB,
      rssEnd: end.rss / MiB,
      heldMax: this.heldMax / MiB,
    };
  }
}

export function formatMemory(m: MemoryFigures): string {
  const f = (n: number) => n.toFixed(1);
  return `RSS ${f(m.rssStart)} → max ${f(m.rssMax)} → end ${f(m.rssEnd)} MiB; heap+buffers growth max ${f(m.heldMax)} MiB`;
}
