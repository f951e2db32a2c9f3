import assert from "node:assert/strict";
import net, { type AddressInfo } from "node:net";
import { after, describe, type TestContext, test } from "node:test";
import { WebSocketServer } from "../../src/index.js";
import { killAll, run } from "./helpers.js";

// `sockjet connect` and `sockjet bench` to a port whose server does not answer in HTTP/1.1: they say so in
// the library's words (src/client/network-error.ts), once. Before: "Parse Error: Expected HTTP/, RTSP/ or ICE/".

after(killAll);

/** A TCP server on 127.0.0.1:0 that answers whatever it is sent with an SSH banner. */
async function sshBanner(t: TestContext): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("data", () => socket.write("SSH-2.0-x\r\n"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

describe("sockjet connect / bench: a server that does not answer in HTTP/1.1", { concurrency: 2 }, () => {
  test("regression: connect to an SSH server: not an HTTP server on this port?", async (t) => {
    const port = await sshBanner(t);
    const result = await run(["connect", `ws://127.0.0.1:${port}/`]);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `sockjet connect: cannot connect to ws://127.0.0.1:${port}/: the server did not answer in HTTP/1.1 (its answer begins "SSH-2.0-x\\x0d\\x0a"): not an HTTP server on this port?\n`,
    );
  });

  test("regression: bench against an h2c-only WebSocketServer: it speaks only HTTP/2 on this port", async (t) => {
    const server = new WebSocketServer({ port: 0, host: "127.0.0.1", http2: true });
    t.after(() => server.close());
    await new Promise((resolve) => server.once("listening", resolve));
    const { port } = server.address() as AddressInfo;
    const result = await run(["bench", "-c", "1", "-d", "0.3", `ws://127.0.0.1:${port}/`]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^sockjet bench: error: cannot connect to .*: the server did not answer in HTTP\/1\.1: its answer is an HTTP\/2 SETTINGS frame, so it speaks only HTTP\/2 on this port; use the http2 option "always" \(HTTP\/2 by prior knowledge, h2c\)\n$/,
    );
  });
});
