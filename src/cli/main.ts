#!/usr/bin/env node
import { readFileSync } from "node:fs";
import { UsageError } from "./args.js";
import { bench } from "./bench.js";
import type { Command } from "./command.js";
import { connect } from "./connect.js";
import { applyHeapHeadroom, HEAP_HEADROOM_ENV } from "./heap-setting.js";
import { serve } from "./serve.js";
import { errorMessage } from "./terminal.js";

// The `sockjet` command: dispatches to serve, connect and bench. A usage mistake prints the message and
// where the help is (`see sockjet <cmd> --help`: the whole usage would bury the one line that matters) and
// exits with 2; any other failure prints one line and exits with 1. Never a stack trace (set
// SOCKJET_DEBUG=1 to see one).

const commands: Command[] = [serve, connect, bench];

function version(): string {
  // src/cli/main.ts and dist/cli/main.js are both two levels below package.json.
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  return String(pkg.version);
}

function mainUsage(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return `Usage: sockjet <command> [options]

The browser's WebSocket on Node.js: a server to try it with, a client and a load generator.

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join("\n")}

Options:
  -h, --help     show this help; \`sockjet <command> --help\` for a command's options
  -v, --version  show the version

Environment:
  ${HEAP_HEADROOM_ENV}=SIZE   heap room kept above the live heap before a full collection, e.g. 128m
                               (default 64m, for large messages on Node 20); 0: V8's own rule

Start with:  sockjet serve   then open http://localhost:8080/`;
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    const topic = first === "help" ? commands.find((c) => c.name === rest[0]) : undefined;
    if (first === "help" && rest[0] !== undefined && topic === undefined) {
      process.stderr.write(`sockjet: unknown command ${JSON.stringify(rest[0])}\nsee sockjet --help\n`);
      return 2;
    }
    process.stdout.write(`${topic?.usage ?? mainUsage()}\n`);
    // `sockjet` alone is a question, not an error; say how to start.
    return 0;
  }
  if (first === "--version" || first === "-v") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === first);
  if (command === undefined) {
    const what = first.startsWith("-")
      ? `unknown option ${first}`
      : `unknown command ${JSON.stringify(first)}`;
    process.stderr.write(`sockjet: ${what}\nsee sockjet --help\n`);
    return 2;
  }
  // Only for a command that runs: a wrong value must not stop --help or --version (a newcomer's review).
  if (!rest.some((arg) => arg === "--help" || arg === "-h")) {
    const heapProblem = applyHeapHeadroom();
    if (heapProblem !== null) {
      process.stderr.write(`sockjet: ${heapProblem}\n`);
      return 2;
    }
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`sockjet ${command.name}: ${error.message}\nsee sockjet ${command.name} --help\n`);
      return 2;
    }
    if (process.env.SOCKJET_DEBUG) console.error(error);
    process.stderr.write(`sockjet ${command.name}: error: ${errorMessage(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit once what was written has reached the pipe or file.
    process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
  },
  (error) => {
    process.stderr.write(`sockjet: error: ${errorMessage(error)}\n`);
    process.exit(1);
  },
);
