import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import ts from "typescript";
import { type PackedProject, packAndInstall, REPO, readJson } from "./packed.js";

// Issue 20, the package: what `npm publish` would ship, checked with the tools the ecosystem uses (publint,
// @arethetypeswrong/cli), then installed from its tarball into a fresh project where it is imported,
// required, type-checked and its CLI run, on this Node.

const run = promisify(execFile);

// One message through a server and a client, both loaded from the installed package: the same script as ES
// module and as CommonJS. `sockjet/redis` is loaded too (its adapter is not started: no Redis here).
const ROUND_TRIP = `
const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
server.on("connection", (socket) => { socket.onmessage = (event) => socket.send(event.data); });
server.on("listening", () => {
  const socket = new WebSocket("ws://127.0.0.1:" + server.address().port);
  socket.onopen = () => socket.send("ping from " + FORMAT);
  socket.onmessage = (event) => {
    console.log(event.data, typeof RedisAdapter, typeof ReconnectingWebSocket, typeof keepHeapHeadroom);
    socket.close();
    server.close();
  };
});
`;
const ESM = `import { WebSocket, WebSocketServer } from "sockjet";
import { ReconnectingWebSocket } from "sockjet/reconnecting";
import { RedisAdapter } from "sockjet/redis";
import { keepHeapHeadroom } from "sockjet/heap";
const FORMAT = "import";
${ROUND_TRIP}`;
const CJS = `const { WebSocket, WebSocketServer } = require("sockjet");
const { ReconnectingWebSocket } = require("sockjet/reconnecting");
const { RedisAdapter } = require("sockjet/redis");
const { keepHeapHeadroom } = require("sockjet/heap");
const FORMAT = "require";
${ROUND_TRIP}`;

// The same use, as TypeScript a consumer compiles: from an ES module and from a CommonJS module.
const TYPED = `import { WebSocket, WebSocketServer, type WebSocketServerOptions } from "sockjet";
import { ReconnectingWebSocket, type ReconnectingWebSocketOptions } from "sockjet/reconnecting";
import { RedisAdapter } from "sockjet/redis";
import { keepHeapHeadroom } from "sockjet/heap";
export const stopHeadroom: () => void = keepHeapHeadroom(32 * 1024 * 1024);
const reconnectOptions: ReconnectingWebSocketOptions = { maxAttempts: 3 };
export const reconnecting = new ReconnectingWebSocket("ws://127.0.0.1:1", [], reconnectOptions);
const options: WebSocketServerOptions = { port: 0, maxPayloadBytes: 1024 };
const server = new WebSocketServer(options);
const socket = new WebSocket("ws://127.0.0.1:1");
socket.onmessage = (event) => { const data: unknown = event.data; void data; };
export const adapterClass: typeof RedisAdapter = RedisAdapter;
export const readyState: number = socket.readyState;
void server;
`;

/** Node's version as [major, minor, patch]. */
function nodeVersion(): number[] {
  return process.versions.node.split(".").map(Number);
}

/** Whether `version` satisfies an `engines.node` range made of `^X.Y.Z` and `>=X.Y.Z` terms joined by `||`. */
function satisfies(version: number[], range: string): boolean {
  const compare = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;
  return range.split("||").some((term) => {
    const match = /^\s*(\^|>=)(\d+)\.(\d+)\.(\d+)\s*$/.exec(term);
    assert.ok(match, `an engines term this test understands: ${term}`);
    const floor = [Number(match[2]), Number(match[3]), Number(match[4])];
    if (compare(version, floor) < 0) return false;
    return match[1] === ">=" || version[0] === floor[0];
  });
}

describe("the published package (npm pack, installed into a fresh project)", () => {
  let packed: PackedProject | null = null;
  before(() => {
    packed = packAndInstall();
  });
  after(() => {
    if (packed !== null) rmSync(packed.root, { recursive: true, force: true });
  });

  test("publint (strict) finds no problem in the tarball", async () => {
    const tarball = readFileSync(packed!.tarball);
    const pkg = readJson(join(REPO, "package.json"));
    const { messages } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) },
      strict: true,
    });
    assert.deepEqual(
      messages.map((message) => `${message.type}: ${formatMessage(message, pkg)}`),
      [],
    );
  });

  test("@arethetypeswrong/cli: every entry point resolves in every resolution mode, no problem", async () => {
    const attw = join(REPO, "node_modules/@arethetypeswrong/cli/dist/index.js");
    // require() of an ES module is what Node 20.19+ / 22.12+ do (package.json engines); attw's TypeScript
    // 5.6 still reports it as "dynamic import only", so that one rule is set aside. The CommonJS consumer
    // below type-checks with TypeScript 5.9 (module nodenext), and require() runs.
    const { stdout } = await run(
      process.execPath,
      [attw, packed!.tarball, "--format", "json", "--ignore-rules", "cjs-resolves-to-esm"],
      { maxBuffer: 64 * 1024 * 1024 },
    ).catch((error: { stdout?: string; stderr?: string }) => {
      assert.fail(`attw failed:\n${error.stdout ?? ""}${error.stderr ?? ""}`);
    });
    const result = JSON.parse(stdout) as {
      analysis: {
        entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>;
      };
      problems: Record<string, { kind: string; entrypoint?: string; resolutionKind?: string }[]>;
    };
    const entrypoints = result.analysis.entrypoints;
    const exported = Object.keys(readJson(join(REPO, "package.json")).exports as Record<string, unknown>);
    assert.deepEqual(Object.keys(entrypoints).sort(), exported.sort());
    assert.ok(exported.length >= 4, "., ./redis, ./reconnecting, ./package.json");
    for (const [name, entrypoint] of Object.entries(entrypoints)) {
      assert.deepEqual(Object.keys(entrypoint.resolutions).sort(), [
        "bundler",
        "node10",
        "node16-cjs",
        "node16-esm",
      ]);
      for (const [mode, { resolution }] of Object.entries(entrypoint.resolutions)) {
        assert.ok(resolution?.fileName, `${name} resolves in ${mode}`);
      }
    }
    const problems = Object.values(result.problems).flat();
    const setAside = problems.filter((problem) => problem.kind === "CJSResolvesToESM");
    assert.ok(setAside.every((problem) => problem.resolutionKind === "node16-cjs"));
    assert.deepEqual(
      problems.filter((problem) => problem.kind !== "CJSResolvesToESM"),
      [],
    );
  });

  test("the tarball: dist/ with source maps that carry their sources, LICENSE, README, CHANGELOG; no build on install", () => {
    const installed = packed!.installed;
    const pkg = readJson(join(installed, "package.json"));
    const scripts = (pkg.scripts ?? {}) as Record<string, string>;
    for (const hook of ["preinstall", "install", "postinstall", "prepare"]) {
      assert.equal(scripts[hook], undefined, `no ${hook} script runs in a consumer's npm install`);
    }
    assert.match(readFileSync(join(installed, "LICENSE"), "utf8"), /^MIT License/);
    assert.match(readFileSync(join(installed, "CHANGELOG.md"), "utf8"), /^# Changelog/);
    assert.match(readFileSync(join(installed, "README.md"), "utf8"), /^# sockjet/);
    const map = readJson(join(installed, "dist/index.js.map")) as {
      sources: string[];
      sourcesContent?: string[];
    };
    assert.equal(map.sourcesContent?.length, map.sources.length, "every source map source has its content");
    assert.equal(map.sourcesContent![0], readFileSync(join(REPO, "src/index.ts"), "utf8"));
    // The npm page shows the README without the repository's files: links and images must be absolute.
    const readme = readFileSync(join(installed, "README.md"), "utf8");
    const targets = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!);
    assert.ok(targets.length >= 3, "the README's links were found");
    assert.deepEqual(
      targets.filter((target) => !/^https:\/\//.test(target)),
      [],
      "every README link is absolute",
    );
    const repository = pkg.repository as { url: string };
    assert.equal(repository.url, "git+https://github.com/sockjet/sockjet.git");
  });

  test("package.json engines holds this Node, and import() and require() both run a round trip on it", async () => {
    const engines = (readJson(join(packed!.installed, "package.json")).engines as { node: string }).node;
    const version = nodeVersion();
    // require() of an ES module works without a flag from Node 20.19 and 22.12: engines says exactly that.
    assert.equal(satisfies(version, engines), true, `node ${process.version} satisfies engines ${engines}`);
    assert.equal(satisfies([20, 18, 3], engines), false);
    assert.equal(satisfies([22, 11, 0], engines), false);
    assert.equal(satisfies([23, 0, 0], engines), true);

    writeFileSync(join(packed!.consumer, "round-trip.mjs"), ESM);
    writeFileSync(join(packed!.consumer, "round-trip.cjs"), CJS);
    for (const [file, format] of [
      ["round-trip.mjs", "import"],
      ["round-trip.cjs", "require"],
    ]) {
      const { stdout, stderr } = await run(process.execPath, [file], {
        cwd: packed!.consumer,
        timeout: 20_000,
      });
      assert.equal(stdout, `ping from ${format} function function function\n`);
      assert.equal(stderr, "", "no warning (an ExperimentalWarning for require() of ESM would show here)");
    }
  });

  test("without the optional peer 'redis', sockjet works and sockjet/redis says what to install", async () => {
    // A copy of the installed package in a project of its own, where no node_modules holds redis.
    const bare = join(packed!.root, "without-redis");
    mkdirSync(join(bare, "node_modules"), { recursive: true });
    cpSync(packed!.installed, join(bare, "node_modules/sockjet"), { recursive: true });
    writeFileSync(join(bare, "package.json"), `${JSON.stringify({ name: "bare", private: true })}\n`);
    const scripts: Array<[string, string]> = [
      ["core.mjs", 'import { WebSocketServer } from "sockjet"; console.log(typeof WebSocketServer);'],
      ["redis.mjs", 'import { RedisAdapter } from "sockjet/redis"; console.log(typeof RedisAdapter);'],
      ["redis.cjs", 'const { RedisAdapter } = require("sockjet/redis"); console.log(typeof RedisAdapter);'],
    ];
    for (const [file, text] of scripts) writeFileSync(join(bare, file), text);
    const core = await run(process.execPath, ["core.mjs"], { cwd: bare, timeout: 20_000 });
    assert.equal(core.stdout, "function\n");
    for (const file of ["redis.mjs", "redis.cjs"]) {
      const failed = await run(process.execPath, [file], { cwd: bare, timeout: 20_000 }).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      assert.ok(failed !== null, `${file} must fail without redis`);
      assert.equal(failed.code, 1);
      assert.match(
        failed.stderr,
        /Error: sockjet\/redis needs the package 'redis' \(node-redis 5 or 6\), an optional peer dependency of sockjet that is not installed: npm install redis/,
        file,
      );
    }
  });

  test("types: an ES module and a CommonJS module of a consumer type-check against the installed package", () => {
    for (const name of ["consumer.mts", "consumer.cts"]) writeFileSync(join(packed!.consumer, name), TYPED);
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ["lib.es2022.d.ts"],
      types: ["node"],
      typeRoots: [join(REPO, "node_modules/@types")],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      skipDefaultLibCheck: true,
    };
    const files = ["consumer.mts", "consumer.cts"].map((name) => join(packed!.consumer, name));
    const program = ts.createProgram(files, options);
    const diagnostics = ts.getPreEmitDiagnostics(program);
    const text = ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (name) => name,
      getCurrentDirectory: () => packed!.consumer,
      getNewLine: () => "\n",
    });
    assert.equal(text, "");
    const resolved = program.getSourceFiles().map((file) => file.fileName);
    assert.ok(resolved.some((file) => file.endsWith("node_modules/sockjet/dist/index.d.ts")));
    assert.ok(resolved.some((file) => file.endsWith("node_modules/sockjet/dist/redis/index.d.ts")));
    assert.ok(resolved.some((file) => file.endsWith("node_modules/sockjet/dist/reconnecting/index.d.ts")));
    assert.ok(resolved.some((file) => file.endsWith("node_modules/sockjet/dist/heap/index.d.ts")));
  });

  test("the CLI installed as node_modules/.bin/sockjet runs", async () => {
    const bin = join(packed!.consumer, "node_modules/.bin/sockjet");
    const { stdout } = await run(bin, ["--help"], { cwd: packed!.consumer, timeout: 20_000 });
    assert.match(stdout, /serve/);
    assert.match(stdout, /connect/);
  });
});
