import { grouped, quoted } from "./terminal.js";

// What `sockjet bench` prints once its run is over (bench.ts): the result (a table, or JSON), then on stderr
// why the server closed connections and why others failed to open. Apart from the run: the run measures,
// this says what the measures mean, and each changes without the other.

/** Distinct reasons for failed connections printed; the rest are counted. */
const SHOWN_FAILURE_KINDS = 3;

/** What a run measured: the JSON that --json prints, and what the table shows. */
export interface BenchResult {
  url: string;
  connections: number;
  inFlight: number;
  payloadBytes: number;
  text: boolean;
  durationSeconds: number;
  messages: number;
  messagesPerSecond: number;
  bytes: number;
  megabytesPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number; mean: number };
  errors: number;
  errorKinds: Record<string, number>;
}

/** Why the server closed connections, by code, and for a 1009 or a rate limit's 1008 what to do about it. */
export function reportServerCloses(
  closes: Map<number, { reason: string; count: number }>,
  size: number,
): void {
  for (const [code, { reason, count }] of closes) {
    const why = reason === "" ? "" : ` ${quoted(reason)}`;
    let line = `sockjet bench: the server closed ${grouped(count)} connection${count === 1 ? "" : "s"} with ${code}${why}`;
    // RFC 6455 §7.4.1: 1009, the message was too big for the server.
    if (code === 1009)
      line += `: use a smaller --size, or raise the server's limit (sockjet serve --max-payload ${sizeText(size)})`;
    // 1008 policy violation: a rate limit's reason says so (src/connection/rate-limit.ts). bench sends as fast
    // as the echoes come back (even -i 1 is a frame per round trip), which no useful limit allows for long.
    else if (code === 1008 && /rate limit/i.test(reason))
      line +=
        ": the server limits what each connection may send, and bench sends as fast as the echoes come back; " +
        "lift or raise its limits for the run (sockjet serve --rate-limit 0 --byte-rate 0, or --on-rate-limit pause)";
    process.stderr.write(`${line}\n`);
  }
}

/** The first few distinct reasons connections failed, with counts, and what to do about a 429. */
export function reportConnectFailures(failures: Map<string, number>, refusedPerAddress: boolean): void {
  if (failures.size === 0) return;
  const total = [...failures.values()].reduce((a, b) => a + b, 0);
  const shown = [...failures].slice(0, SHOWN_FAILURE_KINDS);
  let text = `sockjet bench: ${grouped(total)} connection${total === 1 ? "" : "s"} failed:\n`;
  for (const [why, count] of shown) text += `  ${grouped(count)} × ${why}\n`;
  if (failures.size > shown.length) text += `  … and ${failures.size - shown.length} other reason(s)\n`;
  // RFC 6585 §4: 429 is the per-client limit (sockjet serve allows 100 connections per address).
  if (refusedPerAddress)
    text +=
      "  (429: the server limits connections per client address; for `sockjet serve` lift it with " +
      "--max-connections-per-ip 0, or open fewer with -c)\n";
  process.stderr.write(text);
}

/** A size as --max-payload takes it: 1k, 16m, or bytes. */
function sizeText(bytes: number): string {
  if (bytes % 1024 ** 2 === 0) return `${bytes / 1024 ** 2}m`;
  if (bytes % 1024 === 0) return `${bytes / 1024}k`;
  return String(bytes);
}

/** `value` rounded to `digits` decimals, as the result's figures are. */
export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** A latency figure; "–" when no message came back (there is none: "0.000 ms" read as a fast server). */
function latency(r: BenchResult, ms: number): string {
  return r.messages === 0 ? "–" : `${grouped(ms, 3)} ms`;
}

/** The result as a table, for a terminal. */
export function summaryTable(r: BenchResult): string {
  const kind = r.text ? "text" : "binary";
  const rows: [string, string][] = [
    ["msgs/s", grouped(r.messagesPerSecond)],
    ["MB/s", grouped(r.megabytesPerSecond, 2)],
    ["latency p50", latency(r, r.latencyMs.p50)],
    ["latency p99", latency(r, r.latencyMs.p99)],
    ["latency max", latency(r, r.latencyMs.max)],
    ["messages", grouped(r.messages)],
    ["errors", grouped(r.errors)],
  ];
  for (const [what, count] of Object.entries(r.errorKinds)) rows.push([`  ${what}`, grouped(count)]);
  const width = Math.max(...rows.map(([name]) => name.length)) + 3;
  return (
    `sockjet bench ${r.url}\n` +
    `  ${grouped(r.connections)} connection${r.connections === 1 ? "" : "s"} × ${grouped(r.inFlight)} in flight, ` +
    `${grouped(r.payloadBytes)}-byte ${kind} messages, ${r.durationSeconds.toFixed(1)} s\n\n` +
    rows.map(([name, value]) => `  ${name.padEnd(width)}${value.padStart(14)}`).join("\n") +
    "\n"
  );
}
