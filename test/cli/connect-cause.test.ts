import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import { killAll, run } from "./helpers.js";

// Issue 14 item 2: `sockjet connect` says why a connection failed from the library's cause (the error
// event's HandshakeError), instead of asking the server a second time.

after(killAll);

describe("sockjet connect: the cause of a failed handshake", () => {
  test("regression: a server that refuses with 403 once is reported as 403, from one request (no second diagnostic request)", async () => {
    let requests = 0;
    const server = http.createServer((_request, response) => {
      response.writeHead(404).end();
    });
    server.on("upgrade", (_request, socket) => {
      requests++;
      // The first upgrade request gets 403; any later one would get 404 through the request handler.
      if (requests === 1)
        socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      else socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await run(["connect", `ws://127.0.0.1:${port}/`]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^sockjet connect: cannot connect to .*: the server answered HTTP 403 Forbidden\n$/,
      );
      assert.equal(requests, 1, "one handshake request, no second one to explain the failure");
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
