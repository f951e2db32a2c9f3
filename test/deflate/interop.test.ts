import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { describe, type TestContext, test } from "node:test";
import WS, { WebSocketServer as WSServer } from "ws";
import type { PerMessageDeflateOption } from "../../src/protocol/permessage-deflate/index.js";
import { WebSocketServer } from "../../src/server/websocket-server.js";
import { WebSocket } from "../../src/web/websocket.js";
import { HOST, jsonMessage, mixedPayload, until, within } from "./helpers.js";

// sockjet against the npm `ws` package, an independent permessage-deflate implementation on the same zlib:
// each side compresses what it sends (ws with threshold 0, so even tiny messages), each echo is compared
// byte for byte and in order, and the bytes on the wire show that compression really happened.

const MESSAGES = 240;

/** Server options that allow context takeover both ways (the server default forbids it, to save memory). */
const TAKEOVER = { serverNoContextTakeover: false, clientNoContextTakeover: false };

interface Echo {
  data: Buffer;
  isText: boolean;
}

async function sockjetEchoServer(t: TestContext, perMessageDeflate: PerMessageDeflateOption | undefined) {
  const server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate, maxPayloadBytes: 64 << 20 });
  await once(server, "listening");
  t.after(() => server.close());
  const wireBytesIn: number[] = [];
  const extensions: string[] = [];
  server.on("connection", (socket, request) => {
    extensions.push(socket.extensions);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event: MessageEvent) => socket.send(event.data as string | ArrayBuffer);
    request.socket.on("close", () => wireBytesIn.push(request.socket.bytesRead));
  });
  return { url: `ws://${HOST}:${(server.address() as AddressInfo).port}`, wireBytesIn, extensions };
}

async function wsEchoServer(t: TestContext, perMessageDeflate: WS.PerMessageDeflateOptions | false) {
  const server = new WSServer({ host: HOST, port: 0, perMessageDeflate, maxPayload: 64 << 20 });
  await once(server, "listening");
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const extensions: string[] = [];
  server.on("headers", (headers) => {
    const line = headers.find((h) => h.toLowerCase().startsWith("sec-websocket-extensions:"));
    extensions.push(line === undefined ? "" : line.slice(line.indexOf(":") + 1).trim());
  });
  server.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => socket.send(data as Buffer, { binary: isBinary }));
  });
  return { url: `ws://${HOST}:${(server.address() as AddressInfo).port}`, extensions };
}

/** Sends `payloads` through a ws client and collects the echoes. */
async function echoThroughWsClient(
  url: string,
  options: WS.PerMessageDeflateOptions | boolean,
  payloads: Echo[],
) {
  const ws = new WS(url, { perMessageDeflate: options });
  await within(once(ws, "open"), 5000, "ws open");
  const echoes: Echo[] = [];
  ws.on("message", (data, isBinary) => echoes.push({ data: data as Buffer, isText: !isBinary }));
  for (const p of payloads) ws.send(p.isText ? p.data.toString() : p.data, { binary: !p.isText });
  await until(() => echoes.length === payloads.length, 20_000, "all echoes");
  const extensions = ws.extensions;
  const bytesIn = (ws as unknown as { _socket: { bytesRead: number } })._socket.bytesRead;
  ws.close();
  await within(once(ws, "close"), 5000, "ws close");
  return { echoes, extensions, bytesIn };
}

/** Sends `payloads` through a sockjet client and collects the echoes. */
async function echoThroughSockjetClient(
  url: string,
  perMessageDeflate: PerMessageDeflateOption,
  payloads: Echo[],
) {
  const ws = new WebSocket(url, [], { perMessageDeflate });
  ws.binaryType = "arraybuffer";
  await until(() => ws.readyState === WebSocket.OPEN, 5000, "sockjet open");
  const echoes: Echo[] = [];
  ws.onmessage = (event: MessageEvent) =>
    echoes.push(
      typeof event.data === "string"
        ? { data: Buffer.from(event.data), isText: true }
        : { data: Buffer.from(event.data as ArrayBuffer), isText: false },
    );
  for (const p of payloads) ws.send(p.isText ? p.data.toString() : p.data);
  await until(() => echoes.length === payloads.length, 20_000, "all echoes");
  const extensions = ws.extensions;
  ws.close();
  await until(() => ws.readyState === WebSocket.CLOSED, 5000, "sockjet close");
  return { echoes, extensions };
}

function payloads(n = MESSAGES): Echo[] {
  // Text must be valid UTF-8: the random-byte payloads (every 6th, starting at 2) go as binary.
  return Array.from({ length: n }, (_, i) => ({ data: mixedPayload(i), isText: i % 6 !== 2 }));
}

function assertEchoes(sent: Echo[], got: Echo[]): void {
  assert.equal(got.length, sent.length);
  for (let i = 0; i < sent.length; i++) {
    assert.equal(got[i].isText, sent[i].isText, `message ${i} type`);
    assert.ok(got[i].data.equals(sent[i].data), `message ${i} content (${sent[i].data.length} bytes)`);
  }
}

describe("sockjet server ↔ ws client, both compressing", () => {
  const variants: [string, WS.PerMessageDeflateOptions, string][] = [
    ["ws defaults (threshold 0)", {}, "permessage-deflate"],
    [
      "client_no_context_takeover",
      { clientNoContextTakeover: true },
      "permessage-deflate; client_no_context_takeover",
    ],
    [
      "server_no_context_takeover",
      { serverNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      "server_max_window_bits=10",
      { serverMaxWindowBits: 10 },
      "permessage-deflate; server_max_window_bits=10",
    ],
    ["client_max_window_bits=9", { clientMaxWindowBits: 9 }, "permessage-deflate; client_max_window_bits=9"],
    [
      "8-bit windows both ways, no context takeover",
      {
        serverMaxWindowBits: 8,
        clientMaxWindowBits: 8,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
      },
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=8",
    ],
  ];
  for (const [name, options, response] of variants) {
    test(`ws offers ${name} → server answers ${JSON.stringify(response)}; ${MESSAGES} mixed messages echo intact and in order`, async (t) => {
      // Context takeover allowed, so that the response shows exactly what the offer asked for.
      const server = await sockjetEchoServer(t, { thresholdBytes: 0, ...TAKEOVER });
      const sent = payloads();
      const { echoes, extensions } = await echoThroughWsClient(
        server.url,
        { threshold: 0, ...options },
        sent,
      );
      // ws lists only the names of the extensions in use; the parameters are in our response.
      assert.equal(extensions, "permessage-deflate");
      assert.deepEqual(server.extensions, [response]);
      assertEchoes(sent, echoes);
    });
  }

  test("perMessageDeflate: true on the server: ws's default offer → no context takeover either way; echoes intact", async (t) => {
    const server = await sockjetEchoServer(t, true);
    const sent = payloads();
    const { echoes } = await echoThroughWsClient(server.url, { threshold: 0 }, sent);
    assert.deepEqual(server.extensions, [
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ]);
    assertEchoes(sent, echoes);
  });

  test("compression happens both ways: 200 JSON messages of 2 KiB cross the wire in under a third of their size", async (t) => {
    const server = await sockjetEchoServer(t, true);
    const sent = Array.from({ length: 200 }, (_, i) => ({ data: jsonMessage(i, 2048), isText: true }));
    const total = sent.reduce((n, p) => n + p.data.length, 0);
    const { echoes, bytesIn } = await echoThroughWsClient(server.url, true, sent);
    assertEchoes(sent, echoes);
    await until(() => server.wireBytesIn.length === 1, 5000, "server socket close");
    assert.ok(server.wireBytesIn[0] < total / 3, `server read ${server.wireBytesIn[0]} of ${total} bytes`);
    assert.ok(bytesIn < total / 3, `client read ${bytesIn} of ${total} bytes`);
  });

  test("server without the perMessageDeflate option (default off) → ws's offer is declined, messages go uncompressed", async (t) => {
    const server = await sockjetEchoServer(t, undefined);
    const sent = Array.from({ length: 20 }, (_, i) => ({ data: jsonMessage(i, 2048), isText: true }));
    const { echoes, extensions, bytesIn } = await echoThroughWsClient(server.url, true, sent);
    assert.equal(extensions, "");
    assertEchoes(sent, echoes);
    assert.ok(bytesIn > sent.reduce((n, p) => n + p.data.length, 0));
  });
});

describe("sockjet client ↔ ws server, both compressing", () => {
  const variants: [string, WS.PerMessageDeflateOptions, string][] = [
    ["ws defaults (threshold 0)", {}, "permessage-deflate"],
    [
      "serverNoContextTakeover",
      { serverNoContextTakeover: true },
      "permessage-deflate; server_no_context_takeover",
    ],
    [
      "clientNoContextTakeover",
      { clientNoContextTakeover: true },
      "permessage-deflate; client_no_context_takeover",
    ],
    ["clientMaxWindowBits 9", { clientMaxWindowBits: 9 }, "permessage-deflate; client_max_window_bits=9"],
    ["clientMaxWindowBits 8", { clientMaxWindowBits: 8 }, "permessage-deflate; client_max_window_bits=8"],
    ["serverMaxWindowBits 10", { serverMaxWindowBits: 10 }, "permessage-deflate; server_max_window_bits=10"],
    ["serverMaxWindowBits 8", { serverMaxWindowBits: 8 }, "permessage-deflate; server_max_window_bits=8"],
  ];
  for (const [name, options, response] of variants) {
    test(`ws server with ${name} answers ${JSON.stringify(response)}; ${MESSAGES} mixed messages echo intact and in order`, async (t) => {
      const server = await wsEchoServer(t, { threshold: 0, ...options });
      const sent = payloads();
      const { echoes, extensions } = await echoThroughSockjetClient(server.url, { thresholdBytes: 0 }, sent);
      assert.equal(extensions, response);
      assert.deepEqual(server.extensions, [response]);
      assertEchoes(sent, echoes);
    });
  }

  for (const bits of [8, 9, 10, 11, 12, 13, 14, 15]) {
    test(`sockjet client asks server_max_window_bits=${bits} and offers client_max_window_bits=${bits}: ws agrees, echoes intact`, async (t) => {
      const server = await wsEchoServer(t, { threshold: 0 });
      const sent = payloads(60);
      const { echoes, extensions } = await echoThroughSockjetClient(
        server.url,
        { thresholdBytes: 0, serverMaxWindowBits: bits, clientMaxWindowBits: bits },
        sent,
      );
      assert.equal(
        extensions,
        `permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits=${bits}`,
      );
      assertEchoes(sent, echoes);
    });
  }

  test("the client offers `permessage-deflate; client_max_window_bits` by default, like browsers", async (t) => {
    const server = new WSServer({ host: HOST, port: 0, perMessageDeflate: true });
    await once(server, "listening");
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const offered = new Promise<string | undefined>((resolve) =>
      server.on("connection", (_socket, request) => resolve(request.headers["sec-websocket-extensions"])),
    );
    const ws = new WebSocket(`ws://${HOST}:${(server.address() as AddressInfo).port}`);
    assert.equal(await within(offered, 5000, "the request"), "permessage-deflate; client_max_window_bits");
    await until(() => ws.readyState === WebSocket.OPEN, 5000, "open");
    assert.equal(ws.extensions, "permessage-deflate");
    ws.close();
    await until(() => ws.readyState === WebSocket.CLOSED, 5000, "closed");
  });

  test("perMessageDeflate: false on the client → nothing offered", async (t) => {
    const server = new WSServer({ host: HOST, port: 0, perMessageDeflate: true });
    await once(server, "listening");
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const offered = new Promise<string | undefined>((resolve) =>
      server.on("connection", (_socket, request) => resolve(request.headers["sec-websocket-extensions"])),
    );
    const ws = new WebSocket(`ws://${HOST}:${(server.address() as AddressInfo).port}`, [], {
      perMessageDeflate: false,
    });
    assert.equal(await within(offered, 5000, "the request"), undefined);
    await until(() => ws.readyState === WebSocket.OPEN, 5000, "open");
    assert.equal(ws.extensions, "");
    ws.close();
    await until(() => ws.readyState === WebSocket.CLOSED, 5000, "closed");
  });
});

describe("sockjet client ↔ sockjet server", () => {
  const variants: [string, PerMessageDeflateOption, PerMessageDeflateOption][] = [
    ["defaults, threshold 0", { thresholdBytes: 0 }, { thresholdBytes: 0 }],
    ["context takeover both ways", { thresholdBytes: 0 }, { thresholdBytes: 0, ...TAKEOVER }],
    [
      "takeover server → client only",
      { thresholdBytes: 0 },
      { thresholdBytes: 0, ...TAKEOVER, clientNoContextTakeover: true },
    ],
    [
      "takeover client → server only",
      { thresholdBytes: 0 },
      { thresholdBytes: 0, ...TAKEOVER, serverNoContextTakeover: true },
    ],
    [
      "8-bit windows, takeover",
      { thresholdBytes: 0, serverMaxWindowBits: 8, clientMaxWindowBits: 8 },
      { thresholdBytes: 0, ...TAKEOVER },
    ],
    [
      "server limits the client to 9 bits, level 9, takeover",
      { thresholdBytes: 0 },
      { thresholdBytes: 0, clientMaxWindowBits: 9, level: 9, ...TAKEOVER },
    ],
  ];
  for (const [name, clientOptions, serverOptions] of variants) {
    test(`${name}: ${MESSAGES} mixed messages echo intact and in order`, async (t) => {
      const server = await sockjetEchoServer(t, serverOptions);
      const sent = payloads();
      const { echoes, extensions } = await echoThroughSockjetClient(server.url, clientOptions, sent);
      assert.match(extensions, /^permessage-deflate/);
      assertEchoes(sent, echoes);
    });
  }

  test("large messages: 20 MiB of JSON text and 8 MiB of random bytes echo intact", async (t) => {
    const server = await sockjetEchoServer(t, true);
    const big = Buffer.from(
      JSON.stringify(
        Array.from({ length: 200_000 }, (_, i) => ({ i, name: `item-${i % 977}`, ok: i % 3 === 0 })),
      ),
    );
    const random = mixedPayload(2);
    const sent = [
      { data: big, isText: true },
      {
        data: Buffer.concat(Array.from({ length: Math.ceil((8 << 20) / random.length) }, () => random)),
        isText: false,
      },
      { data: Buffer.from("after the large ones"), isText: true },
    ];
    const { echoes } = await echoThroughSockjetClient(server.url, true, sent);
    assertEchoes(sent, echoes);
  });

  test("send(data, { compress: false }) on a negotiated connection still arrives (RSV1 clear)", async (t) => {
    const server = await sockjetEchoServer(t, true);
    const ws = new WebSocket(server.url);
    await until(() => ws.readyState === WebSocket.OPEN, 5000, "open");
    const got: string[] = [];
    ws.onmessage = (event: MessageEvent) => got.push(event.data as string);
    const message = jsonMessage(1, 3000).toString();
    ws.send(message, { compress: false });
    ws.send(message);
    ws.send("small", { compress: true });
    await until(() => got.length === 3, 5000, "echoes");
    assert.deepEqual(got, [message, message, "small"]);
    ws.close();
    await until(() => ws.readyState === WebSocket.CLOSED, 5000, "closed");
  });
});
