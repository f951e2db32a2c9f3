// What one received binary message costs to hand out, per binaryType, without any socket: a view of the
// read buffer ("nodebuffer") against a new ArrayBuffer holding a copy ("arraybuffer"). V8 makes every
// ArrayBuffer with its own backing store (allocation, zero-filling, external-memory accounting, and later
// the GC's sweeping), which is why the benchmark reports both types.
//
//   node bench/micro/arraybuffer.mjs                    — ns per message for 32 B and 1 KiB, and the CPU
//                                                         time of the main thread and of the others
//   node bench/micro/arraybuffer.mjs --sweep-in-pause   — the same with V8 freeing dead ArrayBuffers in the
//                                                         GC pause (--no-concurrent-array-buffer-sweeping)
//   taskset -c 0 node bench/micro/arraybuffer.mjs       — all threads on one CPU
// On 2 free cores V8's background sweeping made each buffer 2.5x as costly (glibc's malloc served from
// memory freed on the other core); docs/ARCHITECTURE.md ("Many small ArrayBuffers and V8's sweeping thread")
// says why sockjet does not turn it off.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";

const ROUNDS = 3;
const N = 2_000_000;
const read = Buffer.allocUnsafe(64 * 1024).fill(7);
let sink = 0;

if (process.argv.includes("--sweep-in-pause")) setFlagsFromString("--no-concurrent-array-buffer-sweeping");

/** CPU ms of this process's main thread and of its other threads (V8's and libuv's), from Linux's /proc; null
 * elsewhere. */
function threadCpuMs() {
  if (!existsSync("/proc/self/task")) return null;
  const tick = 10; // USER_HZ is 100 on Linux
  let main = 0;
  let others = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ms = (Number(fields[11]) + Number(fields[12])) * tick; // utime + stime
    if (Number(tid) === process.pid) main += ms;
    else others += ms;
  }
  return { main, others };
}

function nodebuffer(size) {
  for (let i = 0; i < N; i++) {
    const at = (i & 31) * (size + 6);
    sink += read.subarray(at, at + size).length;
  }
}

function arraybuffer(size) {
  for (let i = 0; i < N; i++) {
    const at = (i & 31) * (size + 6);
    const copy = new ArrayBuffer(size);
    new Uint8Array(copy).set(read.subarray(at, at + size));
    sink += copy.byteLength;
  }
}

for (const size of [32, 1024]) {
  for (const fn of [nodebuffer, arraybuffer]) {
    const times = [];
    const cpuBefore = threadCpuMs();
    for (let r = 0; r < ROUNDS; r++) {
      const start = process.hrtime.bigint();
      fn(size);
      times.push(Number(process.hrtime.bigint() - start) / N);
    }
    const cpuAfter = threadCpuMs();
    times.sort((a, b) => a - b);
    const cpu =
      cpuBefore === null
        ? ""
        : `; CPU ms: main thread ${cpuAfter.main - cpuBefore.main}, other threads ${cpuAfter.others - cpuBefore.others}`;
    console.log(
      `${String(size).padStart(5)} B  ${fn.name.padEnd(12)} ${times[1].toFixed(0).padStart(5)} ns per message${cpu}`,
    );
  }
}
if (sink === 0) console.log("");
