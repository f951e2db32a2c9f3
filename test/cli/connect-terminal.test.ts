import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import net, { type AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { type WebSocket, WebSocketServer } from "../../src/index.js";
import { killAll, onTerminal, run } from "./helpers.js";

// What `sockjet connect` shows a terminal (issue 22 items 3 and 4): a password in the URL never appears, and
// text from the server (messages, close reasons, the HTTP reason phrase) cannot drive the terminal. The
// terminal is a real pseudo-terminal: util-linux `script` runs the command on one.

after(killAll);

/** Escape sequences a hostile server sends: OSC 0 (window title), OSC 52 (clipboard), CSI 2J, C1 CSI, RLO. */
const HOSTILE = "a\x1b]0;pwned\x07b\x1b]52;c;ZWNobyBwd25lZA==\x07c\x1b[2Jd\x9b31me\u202ef\x7fg";
const HOSTILE_SHOWN = "a\\x1b]0;pwned\\x07b\\x1b]52;c;ZWNobyBwd25lZA==\\x07c\\x1b[2Jd\\x9b31me\\u202ef\\x7fg";

async function withServer(
  onConnection: (socket: WebSocket, request: IncomingMessage) => void,
  body: (url: string, port: number) => Promise<void>,
): Promise<void> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  server.on("connection", onConnection);
  await new Promise<void>((resolve) => server.once("listening", resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    await body(`ws://127.0.0.1:${port}/`, port);
  } finally {
    await server.close();
  }
}

describe("sockjet connect: text from the server on a terminal", () => {
  test("a message's controls and the close reason's are shown escaped; the lines of a message stay lines", async () => {
    await withServer(
      (socket) => {
        socket.send(HOSTILE);
        socket.send("line one\nline two");
        socket.close(4000, "bye\x1b[2J\u202e");
      },
      async (url) => {
        const { code, output } = await onTerminal(["connect", "--wait", "forever", url]);
        assert.equal(code, 1, output);
        assert.ok(output.includes(`< ${HOSTILE_SHOWN}\n`), output);
        assert.ok(output.includes("< line one\n  line two\n"), output);
        assert.ok(output.includes('with 4000 "bye\\x1b[2J\\u202e"'), output);
        for (const raw of ["\x1b]", "\x1b[2J", "\x9b", "\u202e"])
          assert.ok(
            !output.includes(raw),
            `${JSON.stringify(raw)} reached the terminal: ${JSON.stringify(output)}`,
          );
      },
    );
  });

  test("--raw prints received text as is; a pipe gets it as is too", async () => {
    await withServer(
      (socket) => {
        socket.send(HOSTILE);
        socket.close(1000);
      },
      async (url) => {
        const raw = await onTerminal(["connect", "--raw", "--wait", "forever", url]);
        assert.ok(raw.output.includes(`< ${HOSTILE}\n`), JSON.stringify(raw.output));
        const piped = await run(["connect", "--wait", "forever", url]);
        assert.equal(piped.stdout, `${HOSTILE}\n`);
      },
    );
  });

  test("the HTTP reason phrase of a refused handshake is shown escaped", async () => {
    // obs-text in a reason phrase is legal (RFC 9112 §4); byte 0x9b is C1 CSI in Latin-1.
    const server = net.createServer((socket) => {
      socket.on("data", () =>
        socket.end("HTTP/1.1 403 Go\x9b2Jaway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "latin1"),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const result = await run(["connect", `ws://127.0.0.1:${port}/`]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /the server answered HTTP 403 Go\\x9b2Jaway\n$/);
    } finally {
      server.close();
    }
  });
});

describe("sockjet connect: a password in the URL is never shown", () => {
  test("not in the 'connected to' line, the failure line nor the invalid-URL message", async () => {
    await withServer(
      (socket) => socket.close(1000),
      async (_url, port) => {
        const connected = await onTerminal([
          "connect",
          "--wait",
          "forever",
          `ws://alice:s3cr3t@127.0.0.1:${port}/`,
        ]);
        assert.equal(connected.code, 0, connected.output);
        assert.match(connected.output, new RegExp(`connected to ws://\\*\\*\\*@127\\.0\\.0\\.1:${port}/`));
        assert.doesNotMatch(connected.output, /s3cr3t|alice/);
      },
    );
    const refused = await run(["connect", "ws://alice:s3cr3t@127.0.0.1:2/"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot connect to ws:\/\/\*\*\*@127\.0\.0\.1:2\/: connection refused/);
    const invalid = await Promise.all([
      run(["connect", "ws://alice:s3cr3t@exa mple/"]),
      run(["connect", "ws://alice:s3cr3t@127.0.0.1/#x"]),
      run(["connect", "ftp://alice:s3cr3t@127.0.0.1/"]),
      run(["bench", "-d", "0.2", "ws://alice:s3cr3t@127.0.0.1:2/"]),
    ]);
    for (const result of invalid) {
      assert.match(result.stderr, /\*\*\*@/, result.stderr);
      assert.doesNotMatch(result.stderr, /s3cr3t|alice/);
    }
  });
});
