// `sockjet serve`, the CLI a user benchmarks first, as an echo server: the real command (dist/cli/serve.js)
// with its defaults — a log line per connection, permessage-deflate offered (the load generator does not ask
// for it), 100 connections per address — on 127.0.0.1 and the port given; its echo endpoint is "/".
// Usage: node bench/servers/serve-echo.mjs [port]   (0 = any free port) — prints "LISTENING <port>".
//
// It runs the built package (dist/), as sockjet-echo.mjs does.

const port = process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? "0";
let serve;
try {
  ({ serve } = await import("../../dist/cli/serve.js"));
  // What dist/cli/main.js does first for every command, SOCKJET_HEAP_HEADROOM included (src/heap/index.ts
  // says why).
  const { applyHeapHeadroom } = await import("../../dist/cli/heap-setting.js");
  const problem = applyHeapHeadroom();
  if (problem !== null) throw new Error(problem);
} catch (error) {
  console.error(`ERROR ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}

// The command prints its port in its banner: read it there, and tell the benchmark in its own words.
const write = process.stdout.write.bind(process.stdout);
let banner = "";
process.stdout.write = (chunk, ...rest) => {
  banner += String(chunk);
  const match = /listening on 127\.0\.0\.1:(\d+)/.exec(banner);
  if (match === null) return true;
  process.stdout.write = write;
  return write(`LISTENING ${match[1]}\n`, ...rest);
};
serve.run(["--port", port, "--host", "127.0.0.1"]).then(
  (code) => process.exit(code),
  (error) => {
    console.error(`ERROR ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);

// Exit at once on SIGTERM (the benchmark stops servers so; serve itself would first close every connection
// with 1001), which lets `node --cpu-prof` write its profile (bench/profile.ts).
process.on("SIGTERM", () => process.exit(0));
