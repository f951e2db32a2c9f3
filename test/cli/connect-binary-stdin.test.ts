import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import net, { type AddressInfo } from "node:net";
import { after, test } from "node:test";
import { WebSocketServer } from "../../src/index.js";
import { Cli, killAll } from "./helpers.js";

// `connect --binary` sends each line of a pipe as the bytes it holds (a newcomer's review): readline decoded
// them as UTF-8, so `printf 'bin\xff\n'` went out as 62696eefbfbd (U+FFFD), not 62696eff.

after(killAll);

/** What a server received from `sockjet connect …args` with `input` on its stdin, message by message. */
async function received(
  args: string[],
  input: Buffer,
): Promise<{ messages: (string | Buffer)[]; code: number | null }> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  const messages: (string | Buffer)[] = [];
  server.on("connection", (socket) => {
    socket.binaryType = "nodebuffer";
    socket.onmessage = (event) => messages.push(event.data as string | Buffer);
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const cli = new Cli(["connect", "--wait", "200", ...args, `ws://127.0.0.1:${port}/`]);
    cli.process.stdin.end(input);
    const { code } = await cli.exit();
    return { messages, code };
  } finally {
    await server.close();
  }
}

test("connect --binary from a pipe: each line's bytes as they came (0xff stays 0xff), CRLF ends a line as in text mode", async () => {
  const input = Buffer.from("bin\xff\r\nsecond\n\na\rb\xfe\nlast\x80", "latin1");
  const { messages, code } = await received(["--binary"], input);
  assert.equal(code, 0);
  assert.deepEqual(
    messages.map((m) => (Buffer.isBuffer(m) ? m.toString("hex") : `text ${m}`)),
    ["62696eff", Buffer.from("second").toString("hex"), "", "610d62fe", "6c61737480"],
  );
});

test("connect without --binary: the same lines as text (CRLF, an empty line, the last line without LF)", async () => {
  const { messages, code } = await received([], Buffer.from("héllo\r\nsecond\n\nlast"));
  assert.equal(code, 0);
  assert.deepEqual(messages, ["héllo", "second", "", "last"]);
});

// A server that completes the handshake and then reads nothing: connect must stop reading its stdin rather
// than queue all of it (review 151: 400 MB piped in took 600 MB of memory, in text mode and with --binary).
for (const binary of [false, true]) {
  test(`connect${binary ? " --binary" : ""} reads stdin at the server's pace: a server that does not read holds it back`, async () => {
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    const peers: net.Socket[] = [];
    const silent = net.createServer((peer) => {
      peers.push(peer);
      peer.once("data", (head) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(String(head))?.[1] ?? "";
        const accept = createHash("sha1")
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest("base64");
        peer.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        peer.pause();
        opened();
      });
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    const cli = new Cli(["connect", ...(binary ? ["--binary"] : []), `ws://127.0.0.1:${port}/`]);
    cli.process.stdin.on("error", () => {});
    const line = Buffer.from(`${"x".repeat(1023)}\n`);
    const total = 96 * 1024 * 1024;
    let written = 0;
    await open;
    // Written as fast as connect takes it, until it takes nothing for 2 s (bounded: 96 MB, 40 s).
    const deadline = Date.now() + 40_000;
    const chunk = Buffer.concat(Array.from({ length: 64 }, () => line));
    let stalled = false;
    while (written < total && !stalled && Date.now() < deadline) {
      written += chunk.length;
      if (!cli.process.stdin.write(chunk))
        stalled = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(true), 2000);
          cli.process.stdin.once("drain", () => {
            clearTimeout(timer);
            resolve(false);
          });
        });
    }
    // What connect took: at most what it holds back (4 MiB), the kernel's socket buffers and the pipe's.
    assert.ok(written < 40 * 1024 * 1024, `connect read ${(written / 1e6).toFixed(0)} MB from its stdin`);
    cli.process.kill("SIGKILL");
    await cli.exit();
    for (const peer of peers) peer.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });
}
