import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { isExcluded, proxyFromEnvironment } from "../../src/client/proxy-env.js";
import { WebSocket } from "../../src/index.js";
import { proxySkip, startTinyproxy, TINYPROXY } from "./proxies.js";
import { echoServer, echoThrough, failureThrough } from "./targets.js";

// The opt-in to the proxy environment variables, read as undici's EnvHttpProxyAgent reads them (plus
// ALL_PROXY, as curl does), and NO_PROXY's host, subdomain, port and "*" rules.

const found = (url: string, env: Record<string, string>) => proxyFromEnvironment(new URL(url), env);

describe("which variable applies", () => {
  test("ws: uses http_proxy; wss: uses https_proxy, else http_proxy; both fall back to all_proxy", () => {
    const env = { http_proxy: "http://h:1", https_proxy: "http://s:2", all_proxy: "socks5://a:3" };
    assert.equal(found("ws://x/", env)?.value, "http://h:1");
    assert.equal(found("wss://x/", env)?.value, "http://s:2");
    assert.equal(found("wss://x/", { http_proxy: "http://h:1" })?.value, "http://h:1");
    assert.equal(found("ws://x/", { https_proxy: "http://s:2" }), null, "https_proxy is for wss: only");
    assert.equal(found("ws://x/", { all_proxy: "socks5://a:3" })?.value, "socks5://a:3");
    assert.equal(found("wss://x/", { ALL_PROXY: "socks5://a:3" })?.variable, "ALL_PROXY");
    assert.equal(found("ws://x/", {}), null);
  });

  test("the lower-case form wins over the upper-case one; an empty value counts as unset", () => {
    assert.deepEqual(found("ws://x/", { http_proxy: "http://lower:1", HTTP_PROXY: "http://upper:1" }), {
      value: "http://lower:1",
      variable: "http_proxy",
    });
    assert.equal(found("ws://x/", { http_proxy: "", HTTP_PROXY: "http://upper:1" })?.value, "http://upper:1");
    assert.equal(found("wss://x/", { HTTPS_PROXY: "http://s:2" })?.variable, "HTTPS_PROXY");
  });

  test("NO_PROXY (either case) exempts a matching target", () => {
    assert.equal(found("ws://example.com/", { http_proxy: "http://p:1", NO_PROXY: "example.com" }), null);
    assert.equal(
      found("ws://example.com/", { http_proxy: "http://p:1", no_proxy: "other.org" })?.value,
      "http://p:1",
    );
  });
});

describe("NO_PROXY rules", () => {
  test("'*' alone: nothing is proxied", () => {
    assert.equal(isExcluded("anything.example", 80, "*"), true);
  });

  test("a name matches itself and its subdomains, with or without a leading '.' or '*.'", () => {
    for (const entry of ["example.com", ".example.com", "*.example.com", "EXAMPLE.com."]) {
      assert.equal(isExcluded("example.com", 443, entry), true, `${entry} ⊇ example.com`);
      assert.equal(isExcluded("a.b.example.com", 443, entry), true, `${entry} ⊇ a.b.example.com`);
      assert.equal(isExcluded("notexample.com", 443, entry), false, `${entry} ⊉ notexample.com`);
    }
  });

  test("host:port matches that port only; entries split on commas and white space", () => {
    const list = "intranet:8080, localhost\t127.0.0.1:9000";
    assert.equal(isExcluded("intranet", 8080, list), true);
    assert.equal(isExcluded("intranet", 80, list), false);
    assert.equal(isExcluded("localhost", 1234, list), true);
    assert.equal(isExcluded("127.0.0.1", 9000, list), true);
    assert.equal(isExcluded("127.0.0.1", 9001, list), false);
  });

  test("IPv6: bare or bracketed, with a port only when bracketed", () => {
    assert.equal(found("ws://[::1]:8080/", { http_proxy: "http://p:1", no_proxy: "::1" }), null);
    assert.equal(found("ws://[::1]:8080/", { http_proxy: "http://p:1", no_proxy: "[::1]:8080" }), null);
    assert.notEqual(found("ws://[::1]:8081/", { http_proxy: "http://p:1", no_proxy: "[::1]:8080" }), null);
  });

  test("an address range (curl >= 7.86) matches IP-literal targets in it, of its own family", () => {
    const list = "10.0.0.0/8, 192.168.1.77/24 fd00::/8";
    for (const host of ["10.0.0.1", "10.255.255.255", "192.168.1.1", "fd00::5", "fdff:1::1"]) {
      assert.equal(isExcluded(host, 80, list), true, `${list} ⊇ ${host}`);
    }
    for (const host of ["11.0.0.1", "192.168.2.1", "fe00::1", "::ffff:10.0.0.1", "10.example"]) {
      assert.equal(isExcluded(host, 80, list), false, `${list} ⊉ ${host}`);
    }
    assert.equal(isExcluded("127.0.0.1", 80, "127.0.0.1/32"), true);
    assert.equal(isExcluded("127.0.0.2", 80, "127.0.0.1/32"), false);
    assert.equal(isExcluded("2001:db8::1", 80, "::/0"), true);
    // Through the URL: WHATWG URL normalizes the literal first ("0x7f.1" is 127.0.0.1, [FD00:0::1] is fd00::1).
    assert.equal(found("ws://0x7f.1:8080/", { http_proxy: "http://p:1", no_proxy: "127.0.0.0/8" }), null);
    assert.equal(found("wss://[FD00:0::1]/", { https_proxy: "http://p:1", no_proxy: "fd00::/8" }), null);
  });

  test("an invalid prefix matches nothing; a name is never resolved; a bare address matches however written", () => {
    for (const entry of [
      "10.0.0.0/33",
      "10.0.0.0/",
      "10.0.0.0/x",
      "10.0.0.0/-1",
      "10.0.0.0/8/8",
      "fd00::/129",
    ]) {
      assert.equal(isExcluded("10.0.0.1", 80, entry), false, entry);
      assert.equal(isExcluded("fd00::1", 80, entry), false, entry);
    }
    assert.equal(isExcluded("localhost", 80, "127.0.0.0/8"), false, "names are compared, not resolved");
    assert.equal(isExcluded("::1", 80, "0:0:0:0:0:0:0:1"), true);
  });

  test("the default port of the scheme counts: ws: 80, wss: 443", () => {
    assert.equal(found("wss://h/", { https_proxy: "http://p:1", no_proxy: "h:443" }), null);
    assert.notEqual(found("ws://h/", { http_proxy: "http://p:1", no_proxy: "h:443" }), null);
  });
});

/** Sets environment variables for one test, restoring them after it. */
function withEnvironment(t: Parameters<typeof echoThrough>[0], values: Record<string, string>): void {
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
  const saved = new Map(names.map((name) => [name, process.env[name]]));
  for (const name of names) delete process.env[name];
  Object.assign(process.env, values);
  t.after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });
}

describe("proxyFromEnvironment: true, through tinyproxy", { skip: proxySkip(TINYPROXY, "tinyproxy") }, () => {
  test("HTTP_PROXY is used only with the opt-in, and NO_PROXY exempts the target", async (t) => {
    const target = await echoServer(t);
    const proxy = await startTinyproxy(t, { connectPorts: [target.port] });
    withEnvironment(t, { HTTP_PROXY: proxy.url });
    assert.equal(await echoThrough(t, target.url, { proxyFromEnvironment: true }), "echo:hi");
    const connects = () => proxy.output().match(/CONNECT 127\.0\.0\.1/g)?.length ?? 0;
    assert.equal(connects(), 1, "the first connection went through the proxy");
    assert.equal(await echoThrough(t, target.url, {}), "echo:hi");
    assert.equal(connects(), 1, "without the opt-in the environment is ignored");
    process.env.NO_PROXY = `127.0.0.1:${target.port}`;
    assert.equal(await echoThrough(t, target.url, { proxyFromEnvironment: true }), "echo:hi");
    assert.equal(connects(), 1, "NO_PROXY exempted the target");
    // The option wins over the environment.
    process.env.NO_PROXY = "";
    const { error } = await failureThrough(t, target.url, {
      proxyFromEnvironment: true,
      proxy: "http://127.0.0.1:9",
    });
    assert.equal(error.code, "SJ_ERR_PROXY_UNREACHABLE");
  });
});

describe("NO_PROXY with an address range, on real sockets", () => {
  test("NO_PROXY=127.0.0.0/8: a ws://127.0.0.1 target is reached directly, the proxy sees no connection", async (t) => {
    const target = await echoServer(t);
    // A proxy that refuses every CONNECT, counting the connections it gets.
    const sockets: net.Socket[] = [];
    const proxy = net.createServer((socket) => {
      sockets.push(socket);
      socket.on("error", () => {});
      socket.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
    });
    const proxyConnections = () => sockets.length;
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    });
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    withEnvironment(t, { http_proxy: proxyUrl, NO_PROXY: "localhost, 127.0.0.0/8" });
    assert.equal(await echoThrough(t, target.url, { proxyFromEnvironment: true }), "echo:hi");
    assert.equal(proxyConnections(), 0, "the range exempted the target");
    process.env.NO_PROXY = "10.0.0.0/8";
    const { error } = await failureThrough(t, target.url, { proxyFromEnvironment: true });
    assert.equal(error.code, "SJ_ERR_PROXY_REFUSED", "outside the range: through the proxy");
    assert.equal(proxyConnections(), 1);
  });
});

describe("a proxy variable that cannot be used", () => {
  test("an invalid proxy variable is a TypeError naming the variable, never echoing its value", (t) => {
    withEnvironment(t, { https_proxy: "ftp://user:hunter2@proxy:21" });
    assert.throws(
      () => new WebSocket("wss://127.0.0.1:2", [], { proxyFromEnvironment: true }),
      (error: Error) =>
        error instanceof TypeError &&
        /the https_proxy environment variable: unsupported proxy scheme "ftp:"/.test(error.message) &&
        !error.message.includes("hunter2"),
    );
  });
});
