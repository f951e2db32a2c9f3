import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { WebSocket, WebSocketServer } from "../../src/index.js";
import { freePort } from "../pubsub/redis-helpers.js";
import { javascriptBlocks } from "../web/readme-snippets.js";
import { REPO } from "./packed.js";

// Issue 20: the guides in docs/ stay usable: their JavaScript blocks are valid modules (node --check) and
// their links to other files of the repository lead somewhere. The production guide's HAProxy configuration
// runs (where haproxy is installed) in front of a server with origins "same-origin".

const GUIDES = ["docs/migrating-from-ws.md", "docs/migrating-from-socket-io.md", "docs/production.md"];
const scratch = mkdtempSync(join(tmpdir(), "sockjet-guides-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("the guides in docs/", () => {
  for (const guide of GUIDES) {
    test(`${guide}: every JavaScript block parses as an ES module`, () => {
      const blocks = javascriptBlocks(readFileSync(join(REPO, guide), "utf8"));
      assert.ok(blocks.length >= 1, "the guide's JavaScript blocks were found");
      for (const block of blocks) {
        const file = join(scratch, `${guide.replace(/\W/g, "-")}-line-${block.line}.mjs`);
        writeFileSync(file, block.code);
        const result = spawnSync(process.execPath, ["--check", file], { encoding: "utf8" });
        assert.equal(result.status, 0, `${guide} line ${block.line}:\n${result.stderr}`);
      }
    });

    test(`${guide}: every relative link names a file of the repository`, () => {
      const markdown = readFileSync(join(REPO, guide), "utf8");
      const targets = [...markdown.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)]
        .map((match) => match[1]!)
        .filter((target) => !/^[a-z]+:/.test(target));
      for (const target of targets) {
        assert.ok(
          existsSync(join(REPO, dirname(guide), target)),
          `${guide} links to ${target}, which is missing`,
        );
      }
    });
  }

  const haproxy = spawnSync("haproxy", ["-v"]).status === 0;
  test("docs/production.md: the HAProxy configuration carries a WebSocket, its Host and X-Forwarded-For", {
    skip: haproxy ? false : "haproxy is not installed (apt-get install -y haproxy)",
  }, async () => {
    const markdown = readFileSync(join(REPO, "docs/production.md"), "utf8");
    const block = /```haproxy\n([\s\S]*?)```/.exec(markdown)?.[1];
    assert.ok(block, "the guide's haproxy block");
    const server = new WebSocketServer({
      port: 0,
      host: "127.0.0.1",
      origins: "same-origin",
      pingIntervalMs: 0,
    });
    server.on("connection", (socket, request) => {
      socket.onmessage = (event) =>
        socket.send(`${event.data} for ${request.headers["x-forwarded-for"]} at ${request.headers.host}`);
    });
    await new Promise<void>((resolveListening) => server.on("listening", resolveListening));
    const backend = (server.address() as AddressInfo).port;
    const front = await freePort();
    // The guide's configuration, on loopback ports, without TLS and with one backend server.
    const config = block
      .replace(/bind :443 ssl crt \S+/, `bind 127.0.0.1:${front}`)
      .replace(/server s1 127\.0\.0\.1:8080/, `server s1 127.0.0.1:${backend}`)
      .replace(/\n\s*server s2 .*/, "");
    assert.notEqual(config, block);
    const file = join(scratch, "haproxy.cfg");
    writeFileSync(file, config);
    const check = spawnSync("haproxy", ["-c", "-f", file], { encoding: "utf8" });
    assert.equal(check.status, 0, `${check.stdout}${check.stderr}`);

    let proxy: ChildProcess | null = null;
    try {
      proxy = spawn("haproxy", ["-db", "-f", file], { stdio: "ignore" });
      const origin = `http://127.0.0.1:${front}`;
      // Until HAProxy listens (bounded): a refused connection is retried.
      let reply = "";
      for (let attempt = 0; attempt < 50 && reply === ""; attempt++) {
        reply = await new Promise<string>((resolveReply) => {
          const socket = new WebSocket(`ws://127.0.0.1:${front}/ws`, [], { origin });
          socket.onopen = () => socket.send("hello");
          socket.onmessage = (event) => {
            socket.close();
            resolveReply(String(event.data));
          };
          socket.onerror = () => setTimeout(() => resolveReply(""), 100);
        });
      }
      assert.equal(reply, `hello for 127.0.0.1 at 127.0.0.1:${front}`);
    } finally {
      proxy?.kill("SIGKILL");
      await server.close();
    }
  });
});
