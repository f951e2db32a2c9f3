import { createHash } from "node:crypto";
import { once } from "node:events";
import { createServer as createHttpsServer } from "node:https";
import net, { type AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import tls from "node:tls";
import { WebSocketServer, WebSocketStream } from "../../src/index.js";
import { HANDSHAKE_GUID } from "../../src/protocol/constants.js";

// The server side of the WPT websockets/stream/tentative tests, rebuilt on our WebSocketServer (the WPT
// runs pywebsocket handlers; each path below does what its handler does).
//   /echo                           echoes every message; the Close is echoed with its code and reason
//   /remote-close?code=&reason=     the server closes at once (no code: an empty Close; abrupt=1: a ping,
//                                   then the TCP connection is dropped without a Close)
//   /echo_exit                      echoes until the message "Goodbye", then closes
//   /send-backpressure              an empty message, 16 large ones, then the seconds the large ones took
//                                   to be sent (a stream's writes resolve once the kernel has the bytes)
//   /protocol_array                 sends the subprotocol it chose (the first offered of alpha, beta, echo)
//   /handshake_sleep_2              answers the handshake after two seconds
//   /404                            refused (the server answers 404)
// and two raw servers for the closing handshake's timing: delayed-passive-close (answers our Close after
// one second) and passive-close-abort (drops the TCP connection on our Close), and receive-backpressure (reads
// nothing for two seconds after the handshake). With `tls` (the WPT's ?wss
// variant) every one of them is served over TLS with that certificate.

export interface WptServers {
  base: string;
  echo: string;
  delayedPassiveClose: string;
  passiveCloseAbort: string;
  receiveBackpressure: string;
  /** Upgrade requests the WebSocketServer has seen. */
  upgradeRequests(): number;
}

/** Size of each of the 16 large messages of /send-backpressure: 16 MiB in all, more than TCP buffers. */
export const SEND_BACKPRESSURE_MESSAGE_BYTES = 1024 * 1024;

export async function wptServers(
  t: TestContext,
  tlsOptions: { key: string; cert: string } | null = null,
): Promise<WptServers> {
  const https = tlsOptions === null ? null : createHttpsServer(tlsOptions);
  let upgradeRequests = 0;
  const server = new WebSocketServer({
    ...(https === null ? { port: 0, host: "127.0.0.1" } : { server: https }),
    protocols: ["alpha", "beta", "echo"],
    verify: ({ url }) => {
      upgradeRequests++;
      if (url.pathname !== "/handshake_sleep_2") return url.pathname !== "/404";
      return new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 2000).unref());
    },
  });
  if (https === null) await new Promise<void>((resolve) => server.once("listening", resolve));
  else {
    https.listen(0, "127.0.0.1");
    await once(https, "listening");
    t.after(() => {
      https.closeAllConnections();
      https.close();
    });
  }
  server.on("connection", (socket, request) => {
    const url = new URL(request.url ?? "/", "ws://localhost");
    if (url.pathname === "/send-backpressure") {
      sendBackpressure(WebSocketStream.from(socket)).catch(() => {});
      return;
    }
    if (url.pathname === "/protocol_array") {
      socket.send(socket.protocol);
      return;
    }
    if (url.pathname === "/remote-close") {
      if (url.searchParams.has("abrupt")) {
        socket.ping("ping");
        setTimeout(() => socket.terminate(), 50);
        return;
      }
      const code = url.searchParams.get("code");
      if (code === null) socket.close();
      else socket.close(Number(code), url.searchParams.get("reason") ?? "");
      return;
    }
    socket.binaryType = "nodebuffer";
    socket.onmessage = (event) => {
      if (url.pathname === "/echo_exit" && event.data === "Goodbye") socket.close();
      else socket.send(event.data as string | Buffer);
    };
  });
  t.after(() => server.close());
  const scheme = https === null ? "ws" : "wss";
  const address = (https ?? server).address() as AddressInfo;
  const base = `${scheme}://127.0.0.1:${address.port}`;
  // The only frame the closing tests send is their Close.
  const atFirstFrame = (act: (socket: net.Socket) => void) => (socket: net.Socket, rest: boolean) => {
    if (rest) act(socket);
    else socket.once("data", () => act(socket));
  };
  const delayed = await rawWebSocketServer(
    t,
    tlsOptions,
    atFirstFrame((socket) =>
      setTimeout(() => {
        if (!socket.destroyed) socket.end(Buffer.from([0x88, 0x00]));
      }, 1000),
    ),
  );
  const aborting = await rawWebSocketServer(
    t,
    tlsOptions,
    atFirstFrame((socket) => socket.destroy()),
  );
  const notReading = await rawWebSocketServer(t, tlsOptions, (socket) => {
    socket.pause();
    setTimeout(() => {
      socket.on("data", () => {});
      socket.resume();
    }, 2000);
  });
  return {
    base,
    echo: `${base}/echo`,
    delayedPassiveClose: `${scheme}://127.0.0.1:${delayed}/`,
    passiveCloseAbort: `${scheme}://127.0.0.1:${aborting}/`,
    receiveBackpressure: `${scheme}://127.0.0.1:${notReading}/`,
    upgradeRequests: () => upgradeRequests,
  };
}

/** The server side of WPT backpressure-receive.any.js (its send_backpressure_wsh.py). */
async function sendBackpressure(wss: WebSocketStream): Promise<void> {
  const { writable } = await wss.opened;
  const writer = writable.getWriter();
  // The empty message fills the client's readable queue; what follows waits for its reader.
  await writer.write(new Uint8Array(0));
  const start = performance.now();
  const large = new Uint8Array(SEND_BACKPRESSURE_MESSAGE_BYTES);
  for (let i = 0; i < 16; i++) await writer.write(large);
  await writer.write(String((performance.now() - start) / 1000));
}

/**
 * A server made of a plain TCP (or TLS) socket: it answers the opening handshake, then calls `onOpen` with
 * the socket (`rest`: bytes after the request came with it). Returns the port.
 */
async function rawWebSocketServer(
  t: TestContext,
  tlsOptions: { key: string; cert: string } | null,
  onOpen: (socket: net.Socket, rest: boolean) => void,
): Promise<number> {
  const sockets = new Set<net.Socket>();
  const onConnection = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on("error", () => {});
    let head = "";
    const onData = (chunk: Buffer): void => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)![1];
      const accept = createHash("sha1")
        .update(key + HANDSHAKE_GUID)
        .digest("base64");
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      onOpen(socket, end + 4 < head.length);
    };
    socket.on("data", onData);
  };
  const server =
    tlsOptions === null
      ? net.createServer({ allowHalfOpen: true }, onConnection)
      : tls.createServer({ ...tlsOptions, allowHalfOpen: true }, onConnection);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return (server.address() as AddressInfo).port;
}

/** Rejects with `message` if `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${message}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The rejection reason of a promise that must reject. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("the promise resolved; it should have rejected");
}
