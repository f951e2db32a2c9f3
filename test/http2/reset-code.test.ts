import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { describe, test } from "node:test";
import type { WebSocket as ServerSocket } from "../../src/web/websocket.js";
import { WebSocket } from "../../src/web/websocket.js";
import {
  clientClose,
  defer,
  HOST,
  nextConnection,
  openClient,
  portOf,
  startServer,
  waitFor,
  within,
} from "../server/helpers.js";
import { connectStream, rawSession } from "./helpers.js";
import { FLAG, FRAME, RawH2Peer } from "./raw-frames.js";

// RFC 8441 §6: a WebSocket's stream ends as its TCP connection would: END_STREAM for a FIN, RST_STREAM with
// CANCEL for a reset. An abrupt close (terminate(), a close timeout, a handshake given up) sends CANCEL, at
// both ends; a side that has already ended its stream cleanly keeps NO_ERROR. Node's destroy() sent NO_ERROR.

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

/** The RST_STREAM code the peer's stream closed with (0, NO_ERROR, when it closed without one). */
function closedWith(stream: http2.Http2Stream): Promise<number> {
  return within(
    new Promise<number>((resolve) => stream.once("close", () => resolve(stream.rstCode ?? -1))),
    5000,
    "the stream's close",
  );
}

describe("WebSocket over HTTP/2: the RST_STREAM code of an abrupt close (RFC 8441 §6)", () => {
  test("server: terminate() resets with CANCEL; a close timeout after our END_STREAM keeps NO_ERROR", async (t) => {
    const { server, port } = await startServer(t, { http2: true, closeTimeoutMs: 300 });
    const session = await rawSession(`http://${HOST}:${port}`);
    defer(t, () => session.destroy());

    const connection = nextConnection(server);
    const raw = connectStream(session, "/");
    assert.equal((await raw.response)[":status"], 200);
    const [ws] = (await connection) as [ServerSocket, unknown];
    const reset = closedWith(raw.stream);
    ws.terminate();
    assert.equal(await reset, NGHTTP2_CANCEL);

    // The client sends its Close but never ends its side: the server answers, ends its side (END_STREAM),
    // and resets the stream at closeTimeoutMs. It has closed cleanly on its side: NO_ERROR.
    const next = nextConnection(server);
    const lingering = connectStream(session, "/");
    assert.equal((await lingering.response)[":status"], 200);
    await next;
    lingering.stream.removeAllListeners("end");
    const ended = new Promise<void>((resolve) => lingering.stream.once("end", resolve));
    const timedOut = closedWith(lingering.stream);
    lingering.stream.write(clientClose(1000));
    await within(ended, 5000, "the server's END_STREAM");
    assert.equal(await timedOut, NGHTTP2_NO_ERROR);
  });

  test("regression: server terminate() sends RST_STREAM CANCEL alone, no END_STREAM before it (RFC 8441 §6)", async (t) => {
    const { server, port } = await startServer(t, { http2: true });
    const client = await RawH2Peer.connect(port);
    defer(t, () => client.close());
    const connection = nextConnection(server);
    client.request(1, [
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", `${HOST}:${port}`],
      ["sec-websocket-version", "13"],
    ]);
    await client.waitFor((f) => f.streamId === 1 && f.type === FRAME.headers, "HEADERS (the 200)");
    const [ws] = (await connection) as [ServerSocket, unknown];
    // From a task of its own, outside node:http2's callbacks (see the client's test below).
    await new Promise((resolve) => setTimeout(resolve, 20));
    ws.terminate();
    const reset = await client.waitFor((f) => f.streamId === 1 && f.type === FRAME.rstStream, "RST_STREAM");
    assert.equal(reset.payload.readUInt32BE(0), NGHTTP2_CANCEL);
    // Before the fix: an empty DATA frame with END_STREAM (a clean half-close) came first.
    const stream = client.on(1).map((f) => `${f.type}/${f.flags & FLAG.endStream}/${f.payload.length}`);
    assert.deepEqual(
      stream.filter((f) => !f.startsWith(`${FRAME.headers}/`)),
      [`${FRAME.rstStream}/0/4`],
      "after the HEADERS, only the RST_STREAM",
    );
  });

  test("client: terminate() and a handshake given up reset with CANCEL", async (t) => {
    const h2 = http2.createServer({ settings: { enableConnectProtocol: true } });
    const sessions = new Set<http2.ServerHttp2Session>();
    h2.on("session", (session) => sessions.add(session));
    const streams: http2.ServerHttp2Stream[] = [];
    const arrived: (() => void)[] = [];
    h2.on("stream", (stream, headers) => {
      stream.on("error", () => {});
      stream.on("data", () => {});
      if (headers[":path"] !== "/silent") stream.respond({ ":status": 200 });
      streams.push(stream);
      for (const wake of arrived.splice(0)) wake();
    });
    await new Promise<void>((resolve) => h2.listen(0, HOST, resolve));
    defer(t, () => new Promise((resolve) => h2.close(resolve)));
    defer(t, () => {
      for (const session of sessions) session.destroy();
    });
    const base = `ws://${HOST}:${portOf(h2.address())}`;

    const client = await openClient(t, `${base}/open`, undefined, { http2: "always" });
    const reset = closedWith(streams[0]);
    client.terminate();
    assert.equal(await reset, NGHTTP2_CANCEL, "terminate()");

    // close() before the server answers: the handshake is aborted (WHATWG), its stream reset.
    const waiting = new Promise<void>((resolve) => arrived.push(resolve));
    const pending = new WebSocket(`${base}/silent`, [], { http2: "always" });
    defer(t, () => pending.terminate());
    pending.onerror = () => {};
    await within(waiting, 5000, "the CONNECT");
    const aborted = closedWith(streams[1]);
    pending.close();
    assert.equal(await aborted, NGHTTP2_CANCEL, "a handshake given up");
  });

  test("regression: client terminate() sends RST_STREAM CANCEL alone, no END_STREAM before it (RFC 8441 §6)", async (t) => {
    // A raw h2c server, so that the client's frames are read as they are on the wire.
    const peers: RawH2Peer[] = [];
    const raw = net.createServer((socket) => peers.push(RawH2Peer.serve(socket)));
    await new Promise<void>((resolve) => raw.listen(0, HOST, resolve));
    defer(t, () => new Promise((resolve) => raw.close(resolve)));
    defer(t, () => {
      for (const peer of peers) peer.close();
    });
    const opening = new WebSocket(`ws://${HOST}:${portOf(raw.address())}/`, [], { http2: "always" });
    defer(t, () => opening.terminate());
    const opened = new Promise<void>((resolve) => opening.addEventListener("open", () => resolve()));
    await waitFor(() => peers.length === 1, 5000, "the client's connection");
    const peer = peers[0];
    const connect = await peer.waitFor((f) => f.type === FRAME.headers, "the CONNECT's HEADERS");
    peer.respond200(connect.streamId);
    await within(opened, 5000, "open");
    // From a task of its own, outside node:http2's callbacks: within one, Node queues a CANCEL without
    // flushing the stream's data first, and the frame before it did not show.
    await new Promise((resolve) => setTimeout(resolve, 20));
    opening.terminate();
    const reset = await peer.waitFor(
      (f) => f.streamId === connect.streamId && f.type === FRAME.rstStream,
      "RST_STREAM",
    );
    assert.equal(reset.payload.readUInt32BE(0), NGHTTP2_CANCEL);
    // Before the fix: an empty DATA frame with END_STREAM came first.
    const stream = peer
      .on(connect.streamId)
      .map((f) => `${f.type}/${f.flags & FLAG.endStream}/${f.payload.length}`);
    assert.deepEqual(stream.slice(1), [`${FRAME.rstStream}/0/4`], "after the HEADERS, only the RST_STREAM");
  });
});
