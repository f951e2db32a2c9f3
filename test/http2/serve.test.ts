import assert from "node:assert/strict";
import http2 from "node:http2";
import https from "node:https";
import { after, describe, test } from "node:test";
import { type CloseEvent, WebSocket } from "../../src/index.js";
import { killAll, serve } from "../cli/helpers.js";
import { within } from "../server/helpers.js";

// `sockjet serve --tls-cert … --tls-key …` serves the page, the echo and the chat over HTTP/2 and HTTP/1.1 on
// one port: the page over h2 (ALPN) and over HTTP/1.1, WebSockets by extended CONNECT and by upgrade.

const CERT = "test/cli/fixtures/cert.pem";
const KEY = "test/cli/fixtures/key.pem";

after(() => killAll());

async function echoOnce(url: string, mode: "always" | "never", protocols: string[] = []): Promise<string> {
  const socket = new WebSocket(url, protocols, { rejectUnauthorized: false, http2: mode });
  try {
    await within(
      new Promise((resolve, reject) => {
        socket.onopen = resolve;
        socket.onerror = () => reject(new Error(`${url} over ${mode} failed`));
      }),
      5000,
      `open of ${url}`,
    );
    if (protocols.includes("chat")) return socket.protocol;
    const echoed = new Promise<string>((resolve) => {
      socket.onmessage = (event) => resolve(String(event.data));
    });
    socket.send(`via ${mode}`);
    return await within(echoed, 5000, "the echo");
  } finally {
    const closed = new Promise<CloseEvent>((resolve) => {
      socket.onclose = resolve;
    });
    socket.close();
    await within(closed, 5000, "the close");
  }
}

describe("sockjet serve over HTTP/2", () => {
  test("--tls-cert: page, echo and chat over h2 and HTTP/1.1 on one port; SIGTERM exits 0", {
    timeout: 30_000,
  }, async () => {
    const served = await serve(["--tls-cert", CERT, "--tls-key", KEY]);
    const session = http2.connect(served.http, { rejectUnauthorized: false });
    session.on("error", () => {});
    try {
      const settings = await new Promise<http2.Settings>((resolve) =>
        session.once("remoteSettings", resolve),
      );
      assert.equal(settings.enableConnectProtocol, true);
      const page = session.request({ ":path": "/" });
      let html = "";
      page.on("data", (chunk) => {
        html += chunk;
      });
      const status = await new Promise((resolve) => page.once("response", (h) => resolve(h[":status"])));
      await new Promise((resolve) => page.once("end", resolve));
      assert.equal(status, 200);
      assert.match(html, /<!doctype html>/i);
    } finally {
      session.close();
    }
    const http1 = await new Promise<string | undefined>((resolve, reject) =>
      https
        .get(`${served.http}/`, { rejectUnauthorized: false }, (response) => {
          response.resume();
          resolve(response.httpVersion);
        })
        .on("error", reject),
    );
    assert.equal(http1, "1.1");
    assert.equal(await echoOnce(`${served.ws}/`, "always"), "via always");
    assert.equal(await echoOnce(`${served.ws}/`, "never"), "via never");
    assert.equal(await echoOnce(`${served.ws}/chat`, "always", ["chat"]), "chat");
    served.cli.kill("SIGTERM");
    assert.equal((await served.cli.exit()).code, 0, served.cli.transcript());
  });
});
