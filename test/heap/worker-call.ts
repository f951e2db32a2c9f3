// Worker of headroom.test.ts: calls keepHeapHeadroom() in a worker thread and posts what came of it.
import { parentPort } from "node:worker_threads";
import { keepHeapHeadroom } from "../../src/heap/index.js";

try {
  keepHeapHeadroom()();
  parentPort?.postMessage("no error");
} catch (error) {
  parentPort?.postMessage(String(error));
}
