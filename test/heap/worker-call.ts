// Worker of headroom.test.ts and array-buffer-sweeping.test.ts: calls keepHeapHeadroom(), or the function of
// sockjet/heap named by its first argument, in a worker thread and posts what came of it.
import { parentPort } from "node:worker_threads";
import { keepHeapHeadroom, sweepArrayBuffersInPause } from "../../src/heap/index.js";

try {
  const call = process.argv[2] === "sweepArrayBuffersInPause" ? sweepArrayBuffersInPause : keepHeapHeadroom;
  call()();
  parentPort?.postMessage("no error");
} catch (error) {
  parentPort?.postMessage(String(error));
}
