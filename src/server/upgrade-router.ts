import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { writeRejection } from "./http-response.js";

// Several WebSocketServers may share one http server on different paths: one 'upgrade' listener per http
// server routes each request to the WebSocketServer whose path matches, and answers 404 when none does
// (unless other code listens for upgrades on that server too: then the request is theirs).

export interface UpgradeTarget {
  handles(request: IncomingMessage): boolean;
  handleUpgradeRequest(request: IncomingMessage, socket: Duplex, head: Buffer): void;
}

interface Router {
  targets: Set<UpgradeTarget>;
  listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

const routers = new WeakMap<Server, Router>();

export function attachUpgradeTarget(server: Server, target: UpgradeTarget): void {
  let router = routers.get(server);
  if (router === undefined) {
    const targets = new Set<UpgradeTarget>();
    const listener = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      for (const t of targets) {
        if (t.handles(request)) {
          t.handleUpgradeRequest(request, socket, head);
          return;
        }
      }
      if (server.listenerCount("upgrade") === 1)
        writeRejection(socket, 404, "No WebSocket endpoint at this path");
    };
    router = { targets, listener };
    routers.set(server, router);
    server.on("upgrade", listener);
  }
  router.targets.add(target);
}

export function detachUpgradeTarget(server: Server, target: UpgradeTarget): void {
  const router = routers.get(server);
  if (router === undefined) return;
  router.targets.delete(target);
  if (router.targets.size === 0) {
    server.off("upgrade", router.listener);
    routers.delete(server);
  }
}
