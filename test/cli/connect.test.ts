import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type WebSocket, WebSocketServer } from "../../src/index.js";
import { Cli, killAll, lines, run, type Served, serve } from "./helpers.js";

// `sockjet connect` against `sockjet serve` (and, where the server must misbehave, an in-process
// WebSocketServer), all through real pipes.

let served: Served;
before(async () => {
  served = await serve(["--protocol", "foo", "--protocol", "bar"]);
});
after(killAll);

/** An in-process server whose connection handler the test chooses; closes itself after the test. */
async function withServer(
  onConnection: (socket: WebSocket, request: IncomingMessage) => void,
  body: (url: string) => Promise<void>,
): Promise<void> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  server.on("connection", onConnection);
  await new Promise<void>((resolve) => server.once("listening", resolve));
  try {
    await body(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  } finally {
    await server.close();
  }
}

describe("sockjet connect: messages through pipes", { concurrency: 2 }, () => {
  test("each stdin line goes out as text and each echo is printed as is", async () => {
    const cli = new Cli(["connect", `${served.ws}/`]);
    cli.write("hello\n");
    await cli.waitFor(/^hello\n/);
    cli.write("second line, ünïcödé ✓\n");
    await cli.waitFor(/second line, ünïcödé ✓\n$/);
    cli.end();
    const exit = await cli.exit();
    assert.equal(exit.code, 0, cli.transcript());
    assert.deepEqual(lines(cli.stdout), ["hello", "second line, ünïcödé ✓"]);
    assert.equal(cli.stderr, "");
  });

  test("--binary sends lines as binary; binary echoes print as <binary N bytes: hex>", async () => {
    const cli = new Cli(["connect", "--binary", `${served.ws}/`]);
    cli.write("hi\n");
    await cli.waitFor(/<binary 2 bytes: 6869>\n/);
    cli.write(`${"x".repeat(40)}\n`);
    await cli.waitFor(/<binary 40 bytes: (78){32}…>\n/);
    cli.end();
    assert.equal((await cli.exit()).code, 0, cli.transcript());
  });

  test("--wait keeps the connection open after stdin ends, so the echoes arrive", async () => {
    const started = Date.now();
    const result = await run(["connect", "--wait", "1000", `${served.ws}/`], { input: "one\ntwo" });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "one\ntwo\n");
    assert.ok(Date.now() - started >= 1000, "stayed connected for --wait");
  });

  test("--wait 0: the connection closes (1000) as soon as stdin ends", async () => {
    const result = await run(["connect", "--wait", "0", `${served.ws}/?case=no-wait`], { input: "" });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    await served.cli.waitFor(/close {2}127\.0\.0\.1 {2}\/\?case=no-wait {2}1000\n/);
  });

  test("--close 4000:bye: the server sees code 4000 and reason bye, and the echo of it is a clean exit", async () => {
    const result = await run(["connect", "--close", "4000:bye", `${served.ws}/?case=close`], {
      input: "x\n",
    });
    assert.equal(result.code, 0, result.stderr);
    await served.cli.waitFor(/close {2}127\.0\.0\.1 {2}\/\?case=close {2}4000 "bye"\n/);
  });

  test("--protocol (repeatable): the echo endpoint selects the first of its own protocols that was offered", async () => {
    const [foo, none] = await Promise.all([
      run([
        "connect",
        "--protocol",
        "baz",
        "--protocol",
        "bar",
        "--protocol",
        "foo",
        `${served.ws}/?case=foo`,
      ]),
      run(["connect", "--protocol", "zzz", `${served.ws}/?case=none`]),
    ]);
    assert.equal(foo.code, 0, foo.stderr);
    // The server's order of preference (serve --protocol foo --protocol bar) decides, not the client's.
    await served.cli.waitFor(/open {3}127\.0\.0\.1 {2}\/\?case=foo {2}\(protocol foo[,)]/);
    // No match: the server selects none, and a WHATWG client then fails the connection (as browsers do).
    await served.cli.waitFor(/open {3}127\.0\.0\.1 {2}\/\?case=none {2}\(no subprotocol[,)]/);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /^sockjet connect: cannot connect to .*: the server's handshake answer was not acceptable: server did not select any of the offered subprotocols \(offered: zzz\)\n$/,
    );
  });

  test("--no-deflate: no permessage-deflate offer, so the server logs no extension", async () => {
    const result = await run(["connect", "--no-deflate", `${served.ws}/?case=no-deflate`]);
    assert.equal(result.code, 0, result.stderr);
    await served.cli.waitFor(/open {3}127\.0\.0\.1 {2}\/\?case=no-deflate {2}\(no subprotocol\)\n/);
  });

  test("--header (repeatable) and --origin reach the server", async () => {
    let seen: IncomingMessage | undefined;
    await withServer(
      (socket, request) => {
        seen = request;
        socket.close(1000);
      },
      async (url) => {
        const result = await run([
          "connect",
          "--header",
          "X-Token: abc 123",
          "-H",
          "X-Other:two",
          "--origin",
          "https://example.test",
          url,
        ]);
        assert.equal(result.code, 0, result.stderr);
      },
    );
    assert.equal(seen?.headers["x-token"], "abc 123");
    assert.equal(seen?.headers["x-other"], "two");
    assert.equal(seen?.headers.origin, "https://example.test");
  });
});

describe("sockjet connect: exit status", { concurrency: 2 }, () => {
  test("a refused connection exits 1 with one line on stderr", async () => {
    const result = await run(["connect", "ws://127.0.0.1:2/"]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(
      result.stderr,
      /^sockjet connect: cannot connect to ws:\/\/127\.0\.0\.1:2\/: connection refused.*\n$/,
    );
  });

  test("a path with no WebSocket endpoint exits 1 and says what the server answered", async () => {
    const result = await run(["connect", `${served.ws}/nowhere`]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^sockjet connect: cannot connect to .*: the server answered HTTP 404 Not Found: No WebSocket endpoint at this path\n$/,
    );
  });

  test("an abnormal close (no closing handshake) exits 1 with one line on stderr", async () => {
    await withServer(
      (socket) => setTimeout(() => socket.terminate(), 50),
      async (url) => {
        const cli = new Cli(["connect", url]);
        const exit = await cli.exit();
        assert.equal(exit.code, 1);
        assert.match(cli.stderr, /^sockjet connect: connection closed abnormally \(1006\).*\n$/);
        cli.end();
      },
    );
  });

  test("a close with an application code (4500) exits 1 and names the code and reason", async () => {
    await withServer(
      (socket) => socket.close(4500, "boom"),
      async (url) => {
        const result = await run(["connect", "--wait", "forever", url]);
        assert.equal(result.code, 1);
        assert.equal(result.stderr, 'sockjet connect: the server closed the connection with 4500 "boom"\n');
      },
    );
  });

  test("the server closing with 1000 is a clean close: exit 0", async () => {
    await withServer(
      (socket) => socket.close(1000, "done"),
      async (url) => {
        const result = await run(["connect", "--wait", "forever", url]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stderr, 'sockjet connect: the server closed the connection (1000 "done")\n');
      },
    );
  });

  test("the server closing without a status code (1005) is a clean close, not an error: exit 0", async () => {
    await withServer(
      (socket) => socket.close(),
      async (url) => {
        const result = await run(["connect", "--wait", "forever", url]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(
          result.stderr,
          "sockjet connect: the server closed the connection (without a status code)\n",
        );
      },
    );
  });

  test("wss:// to a plain-HTTP server says the server does not speak TLS there", async () => {
    const result = await run(["connect", `wss://127.0.0.1:${served.port}/`]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /: the server does not speak TLS on this port \(a plain http server\? then use ws:\/\/, not wss:\/\/\)\n$/,
    );
  });

  test("bad URLs and bad flags exit 2 with one line and where the help is, no stack trace", async () => {
    const cases: [string[], RegExp][] = [
      [["connect", "not a url"], /^sockjet connect: invalid URL "not a url"/],
      [["connect", "ftp://127.0.0.1/"], /the scheme must be ws, wss, http or https/],
      [["connect", "ws://127.0.0.1/#frag"], /a WebSocket URL has no #fragment/],
      [["connect"], /^sockjet connect: missing URL/],
      [
        ["connect", "--protocol", "ws://127.0.0.1:2/"],
        /^sockjet connect: missing URL: "ws:\/\/127\.0\.0\.1:2\/" was taken as the value of --protocol \(put the URL last/,
      ],
      [
        ["connect", "--close", "1001", "ws://127.0.0.1:2/"],
        /invalid value for --close: "1001" \(the code must be 1000/,
      ],
      [["connect", "--header", "no colon", "ws://127.0.0.1:2/"], /invalid value for --header/],
      [["connect", "--header", "Bad Name: x", "ws://127.0.0.1:2/"], /^sockjet connect: Invalid header name/],
      [["connect", "--protocol", "a b", "ws://127.0.0.1:2/"], /subprotocol 'a b' is invalid/],
      [["connect", "--wait", "soon", "ws://127.0.0.1:2/"], /invalid value for --wait/],
      [["connect", "--frobnicate", "ws://127.0.0.1:2/"], /^sockjet connect: unknown flag --frobnicate/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((result, i) => {
      const [args, message] = cases[i];
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message, args.join(" "));
      assert.match(result.stderr, /^[^\n]+\nsee sockjet connect --help\n$/, args.join(" "));
      assert.doesNotMatch(result.stderr, /\n\s+at /, args.join(" "));
    });
  });
});
