// A node:test reporter that prints nothing until the run ends, then one block per failed test: its file,
// name, error and stack. CI keeps only the tail of the output, where TAP's "not ok" lines may be long gone.
import { inspect } from "node:util";

export default async function* failureSummary(source) {
  const failures = [];
  for await (const event of source) {
    // A todo test that fails is expected to (it does not fail the run).
    if (event.type !== "test:fail" || event.data.todo !== undefined) continue;
    const error = event.data.details?.error;
    // A suite fails because a test in it failed: that test is listed already.
    if (error?.failureType === "subtestsFailed") continue;
    failures.push(event.data);
  }
  if (failures.length === 0) return;
  yield `\n# ${failures.length} failed test(s):\n`;
  for (const { file, line, name, details } of failures) {
    const error = details?.error;
    const cause = error?.cause ?? error;
    const text = inspect(cause, { depth: 4 }).split("\n").slice(0, 40).join("\n#   ");
    yield `# - ${file ?? "?"}:${line ?? "?"} ${JSON.stringify(name)} (${error?.failureType ?? "?"})\n#   ${text}\n`;
  }
}
