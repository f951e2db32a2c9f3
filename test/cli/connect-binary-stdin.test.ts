import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
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
