import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { Cli, killAll } from "../cli/helpers.js";
import { DANTED, proxySkip, startDanted, startTinyproxy, TINYPROXY } from "./proxies.js";
import { echoServer } from "./targets.js";

// `sockjet connect --proxy URL`, and the proxy environment variables it follows without the flag (as curl
// does), against real proxies; a failure names the proxy without its password.

after(killAll);

/** The proxy variables cleared, then `values`: the child sees only what the test sets. */
function proxyEnvironment(values: Record<string, string>): Record<string, string> {
  const names = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
  ];
  return { ...Object.fromEntries(names.map((name) => [name, ""])), ...values };
}

async function connectOnce(args: string[], env: Record<string, string>) {
  const cli = new Cli(["connect", ...args], proxyEnvironment(env));
  cli.end("hello\n");
  const exit = await cli.exit(15_000);
  return { exit, cli };
}

describe("sockjet connect through proxies", () => {
  test("--proxy socks5://… (danted): the line goes through and the echo comes back", {
    skip: proxySkip(DANTED, "dante-server"),
  }, async (t) => {
    const target = await echoServer(t);
    const proxy = await startDanted(t);
    const { exit, cli } = await connectOnce(["--wait", "2000", "--proxy", proxy.url, target.url], {});
    assert.equal(exit.code, 0, cli.transcript());
    assert.match(cli.stdout, /echo:hello/);
  });

  test("HTTP_PROXY without --proxy (tinyproxy); --no-proxy-env ignores it", {
    skip: proxySkip(TINYPROXY, "tinyproxy"),
  }, async (t) => {
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, { connectPorts: [target.port] });
    const through = await connectOnce(["--wait", "2000", target.url], { HTTP_PROXY: proxy.url });
    assert.equal(through.exit.code, 0, through.cli.transcript());
    assert.match(through.cli.stdout, /echo:hello/);
    assert.match(proxy.output(), new RegExp(`CONNECT 127\\.0\\.0\\.1:${target.port}`));
    // A proxy that does not exist: only --no-proxy-env lets the connection succeed.
    const ignored = await connectOnce(["--wait", "2000", "--no-proxy-env", target.url], {
      HTTP_PROXY: "http://127.0.0.1:9",
    });
    assert.equal(ignored.exit.code, 0, ignored.cli.transcript());
  });

  test("an unreachable proxy: one line naming it without the password, exit 1", async () => {
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const { exit, cli } = await connectOnce(
      ["--proxy", `http://alice:hunter2@127.0.0.1:${port}`, "ws://127.0.0.1:9/"],
      {},
    );
    assert.equal(exit.code, 1, cli.transcript());
    assert.match(
      cli.stderr,
      new RegExp(
        `cannot connect to ws://127\\.0\\.0\\.1:9/: proxy http://127\\.0\\.0\\.1:${port} unreachable: `,
      ),
    );
    assert.ok(!cli.stderr.includes("hunter2") && !cli.stdout.includes("hunter2"), cli.transcript());
  });

  test("an invalid --proxy: a usage error (exit 2) that does not repeat it", async () => {
    const { exit, cli } = await connectOnce(["--proxy", "ftp://alice:hunter2@h:21", "ws://127.0.0.1:9/"], {});
    assert.equal(exit.code, 2, cli.transcript());
    assert.match(cli.stderr, /unsupported proxy scheme "ftp:"/);
    assert.ok(!cli.stderr.includes("hunter2"), cli.transcript());
  });
});
