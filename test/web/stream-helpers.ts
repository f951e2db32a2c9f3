import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import { WebSocketServer } from "../../src/index.js";
import { rawServer } from "../support/raw-server.js";

// The server side of the WPT websockets/stream/tentative tests, rebuilt on our WebSocketServer (the WPT
// runs pywebsocket handlers; each path below does what its handler does).
//   /echo                           echoes every message; the Close is echoed with its code and reason
//   /remote-close?code=&reason=     the server closes at once (no code: an empty Close; abrupt=1: a ping,
//                                   then the TCP connection is dropped without a Close)
//   /echo_exit                      echoes until the message "Goodbye", then closes
//   /404                            refused (the server answers 404)
// and two raw servers for the closing handshake's timing: delayed-passive-close (answers our Close after
// one second) and passive-close-abort (drops the TCP connection on our Close).

export interface WptServers {
  base: string;
  echo: string;
  delayedPassiveClose: string;
  passiveCloseAbort: string;
}

export async function wptServers(t: TestContext): Promise<WptServers> {
  const server = new WebSocketServer({
    port: 0,
    host: "127.0.0.1",
    protocols: ["echo"],
    verify: ({ url }) => url.pathname !== "/404",
  });
  await new Promise<void>((resolve) => server.once("listening", resolve));
  server.on("connection", (socket, request) => {
    const url = new URL(request.url ?? "/", "ws://localhost");
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
  const base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const delayed = await rawServer(t, null, (socket) => {
    // The only frame the test sends is its Close: answer it after a second, then end.
    socket.once("data", () =>
      setTimeout(() => {
        if (!socket.destroyed) socket.end(Buffer.from([0x88, 0x00]));
      }, 1000),
    );
  });
  const aborting = await rawServer(t, null, (socket) => {
    socket.once("data", () => socket.destroy());
  });
  return {
    base,
    echo: `${base}/echo`,
    delayedPassiveClose: delayed.url,
    passiveCloseAbort: aborting.url,
  };
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
