// Smoke test of the client benchmark (bench/client.ts): the C echo server builds and echoes correctly, and
// every client (sockjet from dist/, ws, undici) and both permessage-deflate servers produce figures above zero
// without errors, in short runs. Skipped when gcc is missing; the sockjet runs need the built package (dist/,
// made by `npm run build` or `npm ci`).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import {
  CLIENT_LABELS,
  CLIENT_NAMES,
  type ClientContext,
  type ClientRecord,
  clientTables,
  compileEchoServer,
  type DeflateRecord,
  runClientJob,
  runDeflateJob,
} from "../../bench/client.js";
import { repoRoot, startListening, which } from "../../bench/lib.js";

const skip = which("gcc") ? false : "gcc not found on PATH: the C echo server cannot be built";
const built = existsSync(join(repoRoot, "dist", "index.js"));
const noDist = built ? false : "dist/ is not built (npm run build): the sockjet runs load the built package";

describe("client benchmark", { skip }, () => {
  let dir = "";
  const ctx: ClientContext = { echoServer: "", duration: 0.4, warmup: 0.3 };
  const clientRecords: ClientRecord[] = [];
  const deflateRecords: DeflateRecord[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sockjet-client-bench-"));
    ctx.echoServer = compileEchoServer(join(dir, "echo-server"));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the C echo server echoes fragments as sent, answers pings and the closing handshake", async () => {
    const server = await startListening("echo-server", ctx.echoServer, ["-p", "0"]);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, { perMessageDeflate: false });
      await new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      });
      const messages: { data: string; binary: boolean }[] = [];
      ws.on("message", (data: Buffer, binary: boolean) => messages.push({ data: data.toString(), binary }));
      const pong = new Promise((resolve) => ws.once("pong", (data: Buffer) => resolve(data.toString())));
      ws.send("héllo, ", { fin: false });
      ws.ping("p1");
      ws.send("wörld", { fin: true });
      ws.send(Buffer.alloc(70_000, 0x5a));
      assert.equal(await pong, "p1");
      const closed = new Promise<number>((resolve) => ws.once("close", (code: number) => resolve(code)));
      for (let i = 0; i < 200 && messages.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
      ws.close(1000);
      assert.equal(await closed, 1000);
      assert.equal(messages.length, 2);
      assert.deepEqual(messages[0], { data: "héllo, wörld", binary: false });
      assert.equal(messages[1]!.binary, true);
      assert.equal(messages[1]!.data, "Z".repeat(70_000));
      assert.equal(server.exitInfo(), undefined, "the server is still running");
    } finally {
      await server.stop();
    }
  });

  for (const client of CLIENT_NAMES) {
    test(`${client}: 32 B with 16 in flight gives messages/s, CPU figures and no error`, {
      skip: client.startsWith("sockjet") ? noDist : false,
    }, async () => {
      const record = await runClientJob({ part: "client", case: "small", client, rep: 0 }, ctx);
      clientRecords.push(record);
      assert.equal(record.error, undefined);
      const r = record.result!;
      assert.ok(r.msgsPerS > 0 && r.msgs > 0, JSON.stringify(r));
      assert.ok(r.clientCpu > 0, JSON.stringify(r));
      assert.ok(r.serverCpu >= 0, "the echo server's CPU is read from /proc");
      assert.ok(r.otherCpu >= 0);
      assert.equal(r.errors, 0);
    });
  }

  test("1 in flight gives latency percentiles", { skip: noDist }, async () => {
    for (const client of ["sockjet", "ws"] as const) {
      const record = await runClientJob({ part: "client", case: "latency", client, rep: 0 }, ctx);
      clientRecords.push(record);
      assert.equal(record.error, undefined);
      const r = record.result!;
      assert.ok(r.msgsPerS > 0, JSON.stringify(r));
      assert.ok(r.p50Us! > 0 && r.p99Us! >= r.p50Us! && r.maxUs! >= r.p99Us!, JSON.stringify(r));
    }
  });

  test("permessage-deflate: both servers echo compressed JSON, verified", { skip: noDist }, async () => {
    for (const server of ["sockjet", "ws"] as const) {
      const record = await runDeflateJob({ part: "deflate", server, rep: 0 }, ctx);
      deflateRecords.push(record);
      assert.equal(record.error, undefined);
      const r = record.result!;
      assert.ok(r.msgsPerS > 0, JSON.stringify(r));
      assert.ok(r.verified! > 0, "echoes were inflated and checked during the warm-up");
      assert.ok(r.echoBytes! > 0 && r.echoBytes! < 1072, "the echoes were compressed");
      assert.match(r.extensions!, /^permessage-deflate/);
    }
  });

  test("a wrong echo is reported as an error", async () => {
    // a server that is not an echo server: it answers the handshake, then sends one unrelated frame
    const { createServer } = await import("node:net");
    const { createHash } = await import("node:crypto");
    const bogus = createServer((socket) => {
      socket.on("error", () => {});
      let head = "";
      socket.on("data", (chunk) => {
        head += chunk.toString("latin1");
        if (!head.includes("\r\n\r\n") || head === "done") return;
        const key = /^Sec-WebSocket-Key: *(\S+)/im.exec(head)?.[1] ?? "";
        head = "done";
        const accept = createHash("sha1")
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        socket.write(Buffer.from([0x82, 0x03, 1, 2, 3]));
      });
    });
    await new Promise<void>((resolve) => bogus.listen(0, "127.0.0.1", resolve));
    try {
      const { runProcess } = await import("../../bench/lib.js");
      const port = (bogus.address() as { port: number }).port;
      const run = await runProcess(
        process.execPath,
        [
          join(repoRoot, "bench", "clients", "echo-client.mjs"),
          JSON.stringify({
            client: "ws",
            url: `ws://127.0.0.1:${port}/`,
            size: 32,
            window: 4,
            duration: 0.2,
            warmup: 0.2,
          }),
        ],
        { timeoutMs: 30_000 },
      );
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stdout, /"errors":[1-9]/);
    } finally {
      bogus.close();
    }
  });

  test("the report tables show every measured client", () => {
    const tables = clientTables(clientRecords, deflateRecords, CLIENT_NAMES);
    for (const record of clientRecords) {
      const label = CLIENT_LABELS[record.job.client].replace(/[()"+]/g, "\\$&");
      assert.match(tables.detail, new RegExp(`\\| 32 B, (16|1) in flight \\| ${label} \\|`));
    }
    assert.match(tables.throughput, /32 B, 16 in flight/);
    if (deflateRecords.length > 0) assert.match(tables.deflate, /permessage-deflate/);
  });
});
