import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { WebSocket } from "../../src/web/websocket.js";
import { WebSocketStream } from "../../src/web/websocket-stream.js";
import { clientClose, nextConnection, OP, RawClient, startServer, within } from "./helpers.js";

// The codes a server's socket may close with (RFC 6455 §7.4.1, IANA §11.7): besides the WHATWG client's 1000
// and 3000–4999, the ones servers send — 1001 going away, 1008 policy, 1011 internal error, 1013 try again
// later… — as ws allows. A newcomer's `socket.close(1011)` threw InvalidAccessError from the connection
// handler and took the process down. The client's close() keeps the standard's rule.

const SENT = [1001, 1002, 1003, 1007, 1008, 1009, 1011, 1012, 1013, 1014];
const REFUSED = [999, 1004, 1005, 1006, 1010, 1015, 1016, 2999, 5000];

describe("a server's socket: close(code, reason)", () => {
  test("sends each code a server may send, with its reason, in a Close frame on the wire", async (t) => {
    const { server, port } = await startServer(t);
    for (const code of SENT) {
      const client = await RawClient.connect(t, port);
      const accepted = nextConnection(server);
      await client.handshake();
      const [socket] = await accepted;
      socket.close(code, `why ${code}`);
      const frame = await client.readFrame();
      assert.equal(frame.opcode, OP.close, `${code}`);
      assert.equal(frame.payload.readUInt16BE(0), code);
      assert.equal(frame.payload.subarray(2).toString(), `why ${code}`);
      client.write(clientClose(code));
      await client.expectEof();
    }
  });

  test("a sockjet client sees the code as a clean close", async (t) => {
    const { server, url } = await startServer(t);
    server.on("connection", (socket) => socket.close(1013, "busy, try again later"));
    const client = new WebSocket(url);
    const event = await within(
      new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
        client.onclose = resolve;
      }),
      5000,
      "the close",
    );
    assert.deepEqual([event.code, event.reason, event.wasClean], [1013, "busy, try again later", true]);
  });

  test("codes no endpoint sends, 1010 (a client's) and codes outside the ranges throw InvalidAccessError", async (t) => {
    const { server, port } = await startServer(t);
    const client = await RawClient.connect(t, port);
    const accepted = nextConnection(server);
    await client.handshake();
    const [socket] = await accepted;
    for (const code of REFUSED) {
      assert.throws(
        () => socket.close(code),
        (error: DOMException) => error.name === "InvalidAccessError" && /RFC 6455 §7\.4/.test(error.message),
        `${code}`,
      );
    }
    assert.equal(socket.readyState, WebSocket.OPEN, "a refused close() does not close");
    socket.close(1008, "policy");
    assert.equal((await client.readFrame()).payload.readUInt16BE(0), 1008);
  });

  test("the stream of a server's socket (WebSocketStream.from) closes with them too; a client's stream does not", async (t) => {
    const { server, port, url } = await startServer(t);
    const client = await RawClient.connect(t, port);
    const accepted = nextConnection(server);
    await client.handshake();
    const [socket] = await accepted;
    const stream = WebSocketStream.from(socket);
    assert.throws(() => stream.close({ closeCode: 1010 }), { name: "InvalidAccessError" });
    stream.close({ closeCode: 1011, reason: "internal" });
    const frame = await client.readFrame();
    assert.equal(frame.payload.readUInt16BE(0), 1011);
    assert.equal(frame.payload.subarray(2).toString(), "internal");
    const own = new WebSocketStream(url);
    t.after(() => own.close());
    await within(own.opened, 5000, "the client stream's open");
    assert.throws(() => own.close({ closeCode: 1011 }), { name: "InvalidAccessError" });
  });

  test("the client's close() still takes only 1000 and 3000–4999 (WHATWG)", async (t) => {
    const { url } = await startServer(t);
    const client = new WebSocket(url);
    t.after(() => client.terminate());
    await within(new Promise((resolve) => (client.onopen = resolve)), 5000, "open");
    for (const code of [1001, 1008, 1011]) {
      assert.throws(() => client.close(code), { name: "InvalidAccessError" }, `${code}`);
    }
  });
});
