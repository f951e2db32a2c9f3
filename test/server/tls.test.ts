import assert from "node:assert/strict";
import https from "node:https";
import { before, describe, test } from "node:test";
import WS from "ws";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import type { CloseEvent } from "../../src/web/events.js";
import { WebSocket } from "../../src/web/websocket.js";
import {
  defer,
  HOST,
  nextConnection,
  nextEmit,
  nextEvent,
  onMessage,
  openClient,
  portOf,
  selfSignedCert,
  shutDown,
  startServer,
  within,
} from "./helpers.js";

// wss: the standalone server over TLS ({ tls: { cert, key } }), with a self-signed certificate made by
// openssl for this run, and clients that trust it through `ca`.

describe("TLS: { port, tls } and an attached https server", () => {
  let cert: { cert: string; key: string } | null = null;
  before(async () => {
    cert = await selfSignedCert();
  });

  test("our client with `ca` ↔ our server over wss: url is wss://, messages and close work", async (t) => {
    if (cert === null) {
      t.skip("openssl is not installed: cannot make a self-signed certificate for the TLS test");
      return;
    }
    const { server, url } = await startServer(t, { tls: cert });
    assert.match(url, /^wss:\/\/127\.0\.0\.1:\d+$/);
    server.on("connection", (ws) => {
      onMessage(ws, (data) => ws.send(`tls:${data}`));
    });
    const connection = nextConnection(server);
    const client = await openClient(t, `${url}/secure?x=1`, undefined, { ca: cert.cert });
    const [ws] = await connection;
    assert.equal(ws.url, `${url}/secure?x=1`, "the server sees a wss: URL");
    const reply = nextEvent<MessageEvent>(client, "message");
    client.send("hello");
    assert.equal((await reply).data, "tls:hello");
    const closed = nextEvent<CloseEvent>(client, "close");
    client.close(1000, "bye");
    const event = await closed;
    assert.deepEqual([event.code, event.reason, event.wasClean], [1000, "bye", true]);
  });

  test("the verify hook sees secure: true and a wss: URL", async (t) => {
    if (cert === null) {
      t.skip("openssl is not installed: cannot make a self-signed certificate for the TLS test");
      return;
    }
    const seen: { secure: boolean; protocol: string }[] = [];
    const { url } = await startServer(t, {
      tls: cert,
      verify: ({ secure, url }) => {
        seen.push({ secure, protocol: url.protocol });
        return true;
      },
    });
    await openClient(t, url, undefined, { ca: cert.cert });
    assert.deepEqual(seen, [{ secure: true, protocol: "wss:" }]);
  });

  test("a client that does not trust the certificate fails (error, then close 1006); the server keeps serving", async (t) => {
    if (cert === null) {
      t.skip("openssl is not installed: cannot make a self-signed certificate for the TLS test");
      return;
    }
    const { url } = await startServer(t, { tls: cert });
    const untrusting = new WebSocket(url);
    defer(t, () => untrusting.terminate());
    let errored = false;
    untrusting.addEventListener("error", () => (errored = true));
    const event = await nextEvent<CloseEvent>(untrusting, "close");
    assert.equal(event.code, 1006);
    assert.equal(errored, true);
    await openClient(t, url, undefined, { ca: cert.cert });
  });

  test("the npm ws client with `ca` ↔ our server over wss", async (t) => {
    if (cert === null) {
      t.skip("openssl is not installed: cannot make a self-signed certificate for the TLS test");
      return;
    }
    const { server, url } = await startServer(t, { tls: cert });
    server.on("connection", (ws) => {
      onMessage(ws, (data) => ws.send(data));
    });
    const client = new WS(url, { ca: cert.cert });
    defer(t, () => client.terminate());
    const reply = await within(
      new Promise<string>((resolve, reject) => {
        client.on("open", () => client.send("over tls"));
        client.on("message", (data) => resolve(data.toString()));
        client.on("error", reject);
      }),
      5000,
      "the echo over wss",
    );
    assert.equal(reply, "over tls");
  });

  test("attached to an existing https server ({ server, path }): the server-side URL is wss://", async (t) => {
    if (cert === null) {
      t.skip("openssl is not installed: cannot make a self-signed certificate for the TLS test");
      return;
    }
    const httpsServer = https.createServer(cert, (_request, response) => response.end("page"));
    defer(
      t,
      () =>
        new Promise<void>((resolve) => {
          httpsServer.closeAllConnections();
          httpsServer.close(() => resolve());
        }),
    );
    httpsServer.listen(0, HOST);
    await nextEmit(httpsServer, "listening");
    const wss = new WebSocketServer({ server: httpsServer, path: "/ws" });
    defer(t, () => shutDown(wss));
    const connection = nextConnection(wss);
    const port = portOf(httpsServer.address());
    await openClient(t, `wss://${HOST}:${port}/ws`, undefined, { ca: cert.cert });
    const [ws] = await connection;
    assert.equal(ws.url, `wss://${HOST}:${port}/ws`);
  });
});
