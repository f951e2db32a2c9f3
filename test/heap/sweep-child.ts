// Child of array-buffer-sweeping.test.ts: makes 2,000,000 ArrayBuffers of 32 B (an "arraybuffer" receiver's
// allocations) after one of: nothing ("none"), sweepArrayBuffersInPause() ("call"), the same then its stop
// function ("call-stop"), two calls then the first one's stop function ("stale-stop"), or the sockjet command's applyHeapSettings() with this process's environment
// ("cli"). Prints the CPU milliseconds its main thread and its other threads (V8's) spent on them, as JSON.
import { readdirSync, readFileSync } from "node:fs";
import { applyHeapSettings } from "../../src/cli/heap-setting.js";
import { sweepArrayBuffersInPause } from "../../src/heap/index.js";

function threadCpuMs(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ms = (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 1/100 s
    if (Number(tid) === process.pid) main += ms;
    else others += ms;
  }
  return { main, others };
}

const mode = process.argv[2];
if (mode === "call") sweepArrayBuffersInPause();
else if (mode === "call-stop") sweepArrayBuffersInPause()();
else if (mode === "stale-stop") {
  const first = sweepArrayBuffersInPause();
  sweepArrayBuffersInPause();
  first();
} else if (mode === "cli") {
  const problem = applyHeapSettings();
  if (problem !== null) throw new Error(problem);
} else if (mode !== "none") throw new Error(`unknown mode ${mode}`);

const source = new Uint8Array(32).fill(7);
let bytes = 0;
const before = threadCpuMs();
for (let i = 0; i < 2_000_000; i++) {
  const buffer = new ArrayBuffer(32);
  new Uint8Array(buffer).set(source);
  bytes += buffer.byteLength;
}
const after = threadCpuMs();
console.log(JSON.stringify({ main: after.main - before.main, others: after.others - before.others, bytes }));
