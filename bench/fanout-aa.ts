// A/A check of the fan-out benchmark's method: two identical sockjet servers (the built package), run as
// `npm run bench` runs sockjet against sockjet-resume, and their ratio B ÷ A with its ≥ 95% interval. A
// method that is sound puts 1.00 inside every interval; with one round (one pair of processes for all the
// runs) it did not (32 B, server loop, burst 1: 1.06×, 1.04–1.07× over 31 runs), hence the rounds.
//
//   taskset -c 1 node --import tsx bench/fanout-aa.ts [--rounds=9] [--runs=4] [--pin=0,1]
//                                                    [--sizes=32,1k] [--publisher=client,server]
//                                                    [--only=sockjet,sockjet-resume]
//
// --only runs another pair the same way (e.g. sockjet against sockjet-resume: issue 19's ratio for the
// shapes chosen, as `npm run bench` measures it).
//
// Build first (npm run build): the servers run dist/.

import { type FanoutContender, type FanoutPublisher, parseSize, runFanout } from "./fanout.js";
import { caseLabel, formatSize, pairedRatioInterval } from "./fanout-report.js";

const args = Object.fromEntries(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, "").split("=");
    return [key, value ?? "true"];
  }),
);
const [server, receivers] = (args.pin ?? "0,1").split(",").map(Number);
const rounds = Number(args.rounds ?? 9);
const runs = Number(args.runs ?? 4);
const pair = (args.only ?? "sockjet,sockjet").split(",") as FanoutContender[];
const sizes = (args.sizes ?? "32,1k").split(",").map(parseSize);
console.log(`${pair[1]} ÷ ${pair[0]}, ${rounds} round(s) of ${runs} runs`);
const results = await runFanout({
  subscribers: 1000,
  sizes,
  publishers: (args.publisher ?? "client,server").split(",") as FanoutPublisher[],
  bursts: [1, 16],
  seconds: 1,
  dist: true,
  cpus: { server, receivers },
  runs,
  rounds,
  contenders: pair,
  log: () => {},
});
for (let i = 0; i + 1 < results.length; i += 2) {
  const { median, low, high } = pairedRatioInterval(results[i + 1], results[i]);
  const inside = low <= 1 && 1 <= high ? "1.00 inside" : "1.00 OUTSIDE";
  console.log(
    `${formatSize(results[i].size).padStart(6)}  ${caseLabel(results[i]).padEnd(22)} B ÷ A ${median.toFixed(2)}× ` +
      `(${low.toFixed(2)}–${high.toFixed(2)}×)  ${inside}`,
  );
}
process.exit(0);
