// What an idle sockjet server connection keeps beyond an idle raw TCP connection: runs a raw `net` server and a
// sockjet server (the built package, dist/) each in its own child process, holds N idle connections to it with the
// C load generator's idle mode, takes a heap snapshot, and prints per connection the JS heap used, the RSS growth
// and the object kinds whose count or size differs (plain Objects and Arrays told apart by their property names,
// closures by name), sockjet minus raw; with RETAINERS=1, what holds them (sockjet's, then raw's).
//
//   npm run build && node bench/micro/idle-memory-diff.mjs [connections=2000]
//
// bench/out/loadgen is built by `npm run bench` (or bench/lib.ts).
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";

const [mode, count] =
  process.argv[2] === "--child" ? [process.argv[3], process.argv[4]] : [undefined, process.argv[2]];
const N = Number(count ?? 2000);
const loadgen = new URL("../out/loadgen", import.meta.url).pathname;
if (!existsSync(loadgen)) throw new Error(`${loadgen} is missing: run npm run bench once (it builds it)`);

if (mode) {
  await child(mode);
} else {
  const run = (m) =>
    JSON.parse(
      execFileSync(
        process.execPath,
        ["--expose-gc", new URL(import.meta.url).pathname, "--child", m, String(N)],
        {
          encoding: "utf8",
          maxBuffer: 1 << 28,
        },
      ),
    );
  const raw = run("raw");
  const sockjet = run("sockjet");
  const per = (b) => (b / N).toFixed(0).padStart(6);
  console.log(`${N} idle connections, per connection:    raw  sockjet  difference`);
  console.log(
    `JS heap used (B)                    ${per(raw.heap)}   ${per(sockjet.heap)}  ${per(sockjet.heap - raw.heap)}`,
  );
  console.log(
    `RSS (B)                             ${per(raw.rss)}   ${per(sockjet.rss)}  ${per(sockjet.rss - raw.rss)}`,
  );
  console.log(
    `external + array buffers (B)        ${per(raw.external)}   ${per(sockjet.external)}  ${per(sockjet.external - raw.external)}`,
  );
  console.log("\nobject kinds (self size per connection, instances per connection), sockjet minus raw:");
  const names = new Set([...Object.keys(raw.kinds), ...Object.keys(sockjet.kinds)]);
  const rows = [];
  for (const name of names) {
    const a = raw.kinds[name] ?? { count: 0, bytes: 0 };
    const b = sockjet.kinds[name] ?? { count: 0, bytes: 0 };
    const bytes = b.bytes - a.bytes;
    const instances = b.count - a.count;
    if (Math.abs(instances) >= N * 0.5 || Math.abs(bytes) >= N * 8)
      rows.push({ name, bytes, instances, by: b.by, rawBy: a.by });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  let total = 0;
  const verbose = process.env.RETAINERS === "1";
  for (const { name, bytes, instances, by, rawBy } of rows) {
    total += bytes;
    console.log(`${per(bytes)} B  ${(instances / N).toFixed(2).padStart(6)}×  ${name}`);
    if (verbose && by) {
      for (const [who, n] of Object.entries(by))
        if (n >= N * 0.2) console.log(`              ${(n / N).toFixed(2)}× held by ${who}`);
      for (const [who, n] of Object.entries(rawBy ?? {}))
        if (n >= N * 0.2) console.log(`              (raw: ${(n / N).toFixed(2)}× held by ${who})`);
    }
  }
  console.log(`${per(total)} B  in the rows above`);
}

async function child(kind) {
  let port;
  let close;
  if (kind === "raw") {
    // as bench/servers/raw-echo.mjs
    const server = createServer({ noDelay: true }, (socket) => {
      socket.on("data", (chunk) => socket.write(chunk));
      socket.on("error", () => socket.destroy());
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = server.address().port;
    close = () => server.close();
  } else {
    // as bench/servers/sockjet-echo.mjs
    const { WebSocketServer } = await import("../../dist/index.js");
    const server = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      perMessageDeflate: false,
      pingIntervalMs: 0,
    });
    await once(server, "listening");
    server.on("connection", (socket) => {
      socket.binaryType = "nodebuffer";
      socket.onmessage = (event) => socket.send(event.data);
    });
    port = server.address().port;
    close = () => server.close();
  }
  // a few connections first, so that code loaded on the first connection is not charged to the measurement
  await hold(port, kind === "raw", 50).then((stop) => stop());
  await new Promise((resolve) => setTimeout(resolve, 300));
  globalThis.gc();
  globalThis.gc();
  // the RSS figure is taken without snapshots (writing one grows the RSS); the kinds from a second pass
  const before = process.memoryUsage();
  const file = join(tmpdir(), `sockjet-idle-diff-${process.pid}.heapsnapshot`);
  const stop = await hold(port, kind === "raw", N);
  await new Promise((resolve) => setTimeout(resolve, 500));
  globalThis.gc();
  globalThis.gc();
  const after = process.memoryUsage();
  await stop();
  await new Promise((resolve) => setTimeout(resolve, 300));
  globalThis.gc();
  v8.writeHeapSnapshot(`${file}.before`);
  const again = await hold(port, kind === "raw", N);
  await new Promise((resolve) => setTimeout(resolve, 500));
  globalThis.gc();
  globalThis.gc();
  v8.writeHeapSnapshot(file);
  await again();
  close();
  const kindsBefore = kindsOf(JSON.parse(readFileSync(`${file}.before`, "utf8")));
  rmSync(`${file}.before`, { force: true });
  const kinds = Object.fromEntries(
    Object.entries(kindsOf(JSON.parse(readFileSync(file, "utf8"))))
      .map(([name, e]) => {
        const b = kindsBefore[name] ?? { count: 0, bytes: 0, by: {} };
        return [name, { count: e.count - b.count, bytes: e.bytes - b.bytes, by: e.by }];
      })
      .filter(([, e]) => Math.abs(e.count) >= N * 0.3 || Math.abs(e.bytes) >= N * 4),
  );
  rmSync(file, { force: true });
  // writeSync: a pipe written with process.stdout.write may not be flushed before process.exit
  writeSync(
    1,
    JSON.stringify({
      heap: after.heapUsed - before.heapUsed,
      rss: after.rss - before.rss,
      external: after.external - before.external,
      kinds,
    }),
  );
  process.exit(0);
}

async function hold(port, raw, conns) {
  const args = ["-p", String(port), "-c", String(conns), "-I", "60", "-q"];
  if (raw) args.push("-r");
  const idle = spawn(loadgen, args, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    idle.stdout.on("data", (d) => String(d).includes("READY") && resolve());
    idle.on("exit", () => reject(new Error("the load generator exited before READY")));
  });
  return async () => {
    idle.kill();
    await once(idle, "exit").catch(() => {});
  };
}

/**
 * Counts and self sizes per object kind; Objects/Arrays/Contexts keyed by property names, closures by name. For
 * each kind, `by` counts its instances by their first strong retainer ("kind.edge").
 */
function kindsOf(snapshot) {
  const {
    node_fields: fields,
    node_types: nodeTypes,
    edge_fields: edgeFields,
    edge_types: edgeTypes,
  } = snapshot.snapshot.meta;
  const [types] = nodeTypes;
  const [eTypes] = edgeTypes;
  const nf = fields.length;
  const ef = edgeFields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const edgeCountAt = fields.indexOf("edge_count");
  const eTypeAt = edgeFields.indexOf("type");
  const eNameAt = edgeFields.indexOf("name_or_index");
  const eToAt = edgeFields.indexOf("to_node");
  const { nodes, edges, strings } = snapshot;
  const count = nodes.length / nf;
  const kindOf = new Array(count);
  const retainer = new Array(count);
  const edgeName = (e) => {
    const et = eTypes[edges[e + eTypeAt]];
    return et === "element" || et === "hidden" ? `[${et}]` : String(strings[edges[e + eNameAt]]);
  };
  let edge = 0;
  for (let n = 0; n < count; n++) {
    const i = n * nf;
    const type = types[nodes[i + typeAt]];
    const edgeCount = nodes[i + edgeCountAt];
    const first = edge;
    edge += edgeCount * ef;
    let name = strings[nodes[i + nameAt]] || "(anonymous)";
    if (type === "closure") {
      name = `closure ${name}`;
    } else if (type === "object" && (name === "Object" || name === "Array" || name === "system / Context")) {
      const props = [];
      for (let e = first; e < first + edgeCount * ef; e += ef) {
        const et = eTypes[edges[e + eTypeAt]];
        if (et === "property" || (et === "context" && name === "system / Context")) props.push(edgeName(e));
      }
      if (props.length) name = `${name} {${props.slice(0, 8).join(",")}}`;
    } else if (type === "string" || type === "concatenated string" || type === "sliced string") {
      name = `(${type})`;
    } else if (type !== "object" && type !== "native") {
      name = `(${type}) ${name}`.slice(0, 70);
    }
    kindOf[n] = name;
  }
  edge = 0;
  for (let n = 0; n < count; n++) {
    const end = edge + nodes[n * nf + edgeCountAt] * ef;
    for (; edge < end; edge += ef) {
      const et = eTypes[edges[edge + eTypeAt]];
      if (et === "weak" || et === "shortcut") continue;
      const to = edges[edge + eToAt] / nf;
      if (retainer[to] === undefined) retainer[to] = `${kindOf[n].slice(0, 50)} .${edgeName(edge)}`;
    }
  }
  const kinds = {};
  for (let n = 0; n < count; n++) {
    const entry = kinds[kindOf[n]] ?? (kinds[kindOf[n]] = { count: 0, bytes: 0, by: {} });
    entry.count++;
    entry.bytes += nodes[n * nf + sizeAt];
    const by = retainer[n] ?? "(none)";
    entry.by[by] = (entry.by[by] ?? 0) + 1;
  }
  for (const entry of Object.values(kinds)) {
    entry.by = Object.fromEntries(
      Object.entries(entry.by)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6),
    );
  }
  return kinds;
}
