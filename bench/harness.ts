// The state of one `npm run bench` run: its options, CPU pinning, the records of every part, warnings, and the
// wait for a quiet machine before each run.
import { setTimeout as sleep } from "node:timers/promises";
import type { ClientRecord, DeflateRecord } from "./client.js";
import type { Record_ } from "./echo.js";
import type { FanoutResult } from "./fanout.js";
import { H2_IDLE_SOCKETS, type H2Record } from "./h2.js";
import { type ContenderName, choosePinning, killAll, machineBusyPercent } from "./lib.js";
import { parseOptions } from "./options.js";

// ---------------------------------------------------------------------------------------------------------------

export const options = (() => {
  try {
    return parseOptions(process.argv.slice(2));
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
})();

export { CONTENDED_CPU } from "./lib.js";
/** before each run, wait (up to QUIET_WAIT_MS, and QUIET_BUDGET_MS in all) until the machine is this idle */
export const QUIET_CPU = 15;
export const QUIET_WAIT_MS = 15_000;
/** (a smoke test does not wait long, nor repeat runs) */
export const QUIET_BUDGET_MS = options.quick ? 20_000 : 90_000;
/** contended runs are repeated once, up to this many times in all */
export const RETRY_BUDGET = options.quick ? 0 : 8;

process.on("SIGINT", () => {
  killAll();
  process.exit(130);
});
process.on("SIGTERM", () => {
  killAll();
  process.exit(143);
});

export const pinning = choosePinning();
export const unavailable = new Map<ContenderName, string>();
export const started = new Set<ContenderName>();
export const records: Record_[] = [];
export const warnings: string[] = [];

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Waits (at most min(QUIET_WAIT_MS, budgetMs)) until the machine is nearly idle; returns the time waited. */
export async function waitForQuiet(budgetMs: number): Promise<number> {
  const t0 = Date.now();
  const limit = Math.min(QUIET_WAIT_MS, budgetMs);
  for (let i = 0; i < 100; i++) {
    const busy = await machineBusyPercent(300);
    if (busy < QUIET_CPU) break;
    if (Date.now() - t0 >= limit) {
      log(`  machine still busy (${busy.toFixed(0)}% of a CPU used by others): running anyway`);
      break;
    }
    if (i === 0) log(`  waiting for a quiet machine (${busy.toFixed(0)}% of a CPU in use)...`);
    await sleep(700);
  }
  return Date.now() - t0;
}

export const clientRecords: ClientRecord[] = [];
export const deflateRecords: DeflateRecord[] = [];
export const fanoutRun: { results: FanoutResult[]; error: string | undefined } = {
  results: [],
  error: undefined,
};
export const h2Records: H2Record[] = [];
export const h2IdleSockets = options.quick ? 300 : H2_IDLE_SOCKETS;
