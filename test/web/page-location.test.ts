import assert from "node:assert/strict";
import { once } from "node:events";
import { after, before, describe, test } from "node:test";
import { WebSocket, WebSocketServer } from "../../src/index.js";

// Where the global object has a `location` (Deno's --location, test harnesses, embedders), a WebSocket is
// created as in a page: relative URLs resolve against it ("new WebSocket(url, protocols)" step 2, the API
// base URL; http → ws, https → wss) and its origin is sent as `Origin` (Fetch §3.1). The `baseURL` and
// `origin` options say otherwise. Ported from WPT websockets/Create-non-absolute-url.any.js and
// websockets/opening-handshake/003-sets-origin.worker.js.

type WithLocation = { location?: unknown };

/** Runs `body` with globalThis.location set to `href` (a URL object, as a harness would provide). */
async function withLocation<T>(href: string, body: () => T | Promise<T>): Promise<T> {
  const global = globalThis as unknown as WithLocation;
  const had = Object.hasOwn(global, "location");
  const previous = global.location;
  global.location = new URL(href);
  try {
    return await body();
  } finally {
    if (had) global.location = previous;
    else delete global.location;
  }
}

describe("relative URLs and the page's origin, where globalThis.location exists", () => {
  let server: WebSocketServer;
  let port = 0;
  before(async () => {
    server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await once(server, "listening");
    port = (server.address() as { port: number }).port;
    // An /origin endpoint as in WPT's handlers: sends back the Origin it was opened with.
    server.on("connection", (socket, request) => {
      socket.send(request.headers.origin ?? "(none)");
    });
  });
  after(() => server.close());

  /** Opens, returns the first message (the Origin the server saw), closes cleanly. */
  async function originSeenBy(socket: WebSocket): Promise<{ origin: unknown; wasClean: boolean }> {
    const timer = setTimeout(() => socket.terminate(), 5000);
    const [message] = (await once(socket, "message")) as [MessageEvent];
    socket.close();
    const [close] = (await once(socket, "close")) as [CloseEvent];
    clearTimeout(timer);
    return { origin: message.data, wasClean: close.wasClean };
  }

  // WPT Create-non-absolute-url.any.js: the inputs and the expected url.
  for (const input of ["test", "?", null, 123]) {
    test(`Create WebSocket - Pass a non absolute URL: ${input}`, async () => {
      const page = `http://127.0.0.1:${port}/websockets/Create-non-absolute-url.any.html`;
      await withLocation(page, () => {
        const url = new URL(String(input), page);
        url.protocol = "ws";
        const ws = new WebSocket(input as string);
        assert.equal(ws.url, url.href);
        ws.close();
      });
    });
  }

  test("a relative URL that is only a fragment is still a SyntaxError (WPT Create-invalid-urls: '#test')", async () => {
    await withLocation(`http://127.0.0.1:${port}/page.html`, () => {
      assert.throws(() => new WebSocket("#test"), { name: "SyntaxError" });
      assert.throws(() => new WebSocket(`ftp://127.0.0.1:${port}/`), { name: "SyntaxError" });
    });
  });

  test("an https page resolves to wss", async () => {
    await withLocation("https://example.test/a/b.html", () => {
      const ws = new WebSocket("echo");
      assert.equal(ws.url, "wss://example.test/a/echo");
      ws.close();
    });
  });

  test("origin set from the page (WPT opening-handshake/003-sets-origin)", async () => {
    const page = `http://localhost:${port}/websockets/opening-handshake/003-sets-origin.worker.html`;
    const result = await withLocation(page, () =>
      originSeenBy(new WebSocket(`ws://127.0.0.1:${port}/origin`)),
    );
    assert.deepEqual(result, { origin: `http://localhost:${port}`, wasClean: true });
  });

  test("the baseURL and origin options win over the page", async () => {
    const result = await withLocation("http://page.test/x/y.html", () => {
      const ws = new WebSocket("origin", [], {
        baseURL: `ws://127.0.0.1:${port}/`,
        origin: "https://app.test",
      });
      assert.equal(ws.url, `ws://127.0.0.1:${port}/origin`);
      return originSeenBy(ws);
    });
    assert.deepEqual(result, { origin: "https://app.test", wasClean: true });
  });

  test("an Origin in headers wins over the page's", async () => {
    const result = await withLocation("http://page.test/", () =>
      originSeenBy(new WebSocket(`ws://127.0.0.1:${port}/`, [], { headers: { origin: "https://h.test" } })),
    );
    assert.equal(result.origin, "https://h.test");
  });

  test("without a location: relative URLs are a SyntaxError and no Origin is sent", async () => {
    assert.equal((globalThis as unknown as WithLocation).location, undefined);
    assert.throws(() => new WebSocket("test"), { name: "SyntaxError" });
    const result = await originSeenBy(new WebSocket(`ws://127.0.0.1:${port}/`));
    assert.equal(result.origin, "(none)");
  });
});
