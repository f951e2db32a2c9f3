// Helpers for the ReconnectingWebSocket tests: a recorder of every event it fires, an HTTP server that
// refuses every upgrade with a given status (counting the attempts), and clients closed when a test ends.

import http from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";
import type { CloseEvent, ErrorEvent, MessageEvent } from "../../src/index.js";
import {
  type DropEvent,
  type ReconnectedEvent,
  type ReconnectingEvent,
  ReconnectingWebSocket,
  type ReconnectingWebSocketOptions,
} from "../../src/reconnecting/index.js";
import { within } from "../client/helpers.js";

export interface Logged {
  type: string;
  readyState: number;
  event: Event;
}

/** Opens a client and closes it when the test ends (no retry timer outlives a test). */
export function reconnecting(
  t: TestContext,
  url: string,
  options?: ReconnectingWebSocketOptions,
): ReconnectingWebSocket {
  const client = new ReconnectingWebSocket(url, undefined, options);
  t.after(() => client.close());
  return client;
}

/** Records every event with the readyState at dispatch; `summary()` gives a short line per event. */
export function recordEvents(client: ReconnectingWebSocket) {
  const log: Logged[] = [];
  for (const type of ["open", "message", "error", "close", "reconnecting", "reconnected", "drop"]) {
    client.addEventListener(type, (event) => log.push({ type, readyState: client.readyState, event }));
  }
  const summary = () =>
    log.map(({ type, event }) => {
      if (type === "message") return `message ${String((event as MessageEvent).data)}`;
      if (type === "error")
        return `error ${(event as ErrorEvent).error?.code ?? (event as ErrorEvent).message}`;
      if (type === "close") return `close ${(event as CloseEvent).code}`;
      if (type === "reconnecting") {
        const e = event as ReconnectingEvent;
        return `reconnecting ${e.attempt} after ${e.code}`;
      }
      if (type === "reconnected") return `reconnected ${(event as ReconnectedEvent).attempts}`;
      if (type === "drop") {
        const e = event as DropEvent;
        return `drop ${String(e.data)} ${e.reason}`;
      }
      return type;
    });
  return { log, summary };
}

/** Resolves with the next event of `type` (rejects after `ms`). */
export function nextEvent<E extends Event>(target: EventTarget, type: string, ms = 5000): Promise<E> {
  return within(
    new Promise<E>((resolve) => target.addEventListener(type, (e) => resolve(e as E), { once: true })),
    ms,
    `a '${type}' event`,
  );
}

/** An HTTP server on 127.0.0.1:0 that answers every upgrade request with `status`; counts them. */
export async function refusingServer(
  t: TestContext,
  status: number,
): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = http.createServer((_request, response) => response.writeHead(404).end());
  server.on("upgrade", (_request, socket) => {
    requests++;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/`, requests: () => requests };
}
