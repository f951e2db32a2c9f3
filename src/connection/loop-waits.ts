import { performance } from "node:perf_hooks";

// Whether this process has spare time: its event loop waited for I/O (libuv's idle time grew) within the
// last BURSTS_AFTER_WAIT read bursts. A client in that state writes its read bursts in pairs of frames, not
// in one write at the burst's end (output-batcher.ts): the peer starts on the first answers while the rest
// are built, so the two ends work at once instead of taking turns, and this end no longer falls asleep after
// every burst waiting for the peer. A busy process (many connections, always a read waiting) never waits, so
// it keeps one write per burst and its syscalls stay few.
//
// Measured with the client benchmark's case, one connection with 16 × 32 B in flight against the C echo
// server, on a VM where waking a process costs ~40 µs (32 B round trip with 1 in flight: ~95 µs), runs
// interleaved: 165–193k msg/s with one write per burst (the client at 55% CPU; ws 234–249k at 97%),
// 290–314k with this rule. Pairs always cost 64 connections in one process 2.8× (710k → 255k msg/s); with
// this rule, 697–713k against 708–715k. Pairs rather than one write per frame (as ws: 222k), per 3, 4 or 8
// frames (285k, 273k, 188k), or per 5–20 µs of work (250k, 217k, 210k).

/** Read bursts after the loop last waited during which it still counts as having spare time. */
const BURSTS_AFTER_WAIT = 64;

const timing = performance.nodeTiming as { idleTime?: number };
let idleTimeSeen = -1;
let burstsSinceWait = BURSTS_AFTER_WAIT;

/** Called once per read burst: whether the loop has waited for I/O within the last BURSTS_AFTER_WAIT bursts. */
export function loopWaitedRecently(): boolean {
  const idle = timing.idleTime;
  if (typeof idle !== "number") return false;
  if (idle !== idleTimeSeen) {
    idleTimeSeen = idle;
    burstsSinceWait = 0;
    return true;
  }
  if (burstsSinceWait >= BURSTS_AFTER_WAIT) return false;
  return ++burstsSinceWait < BURSTS_AFTER_WAIT;
}
