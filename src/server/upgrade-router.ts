import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { writeRejection } from "./http-response.js";

// Several WebSocketServers may share one http server on different paths: one 'upgrade' listener per http
// server routes each request to the WebSocketServer whose path matches, and answers 404 when none does
// (unless other code listens for upgrades on that server too: then the request is theirs). One path has one
// server: a second one on it would never get a connection, so it is refused when it is made.

export interface UpgradeTarget {
  handles(request: IncomingMessage): boolean;
  handleUpgradeRequest(request: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/** A router's targets and their paths (undefined: every path). */
export type PathTargets<T> = Map<T, string | undefined>;

/**
 * The target serving `request`: the one with the request's path, else the one without a path (which serves
 * the paths no other serves, whichever was made first).
 */
export function routeByPath<T extends { handles(request: IncomingMessage): boolean }>(
  targets: PathTargets<T>,
  request: IncomingMessage,
): T | undefined {
  let fallback: T | undefined;
  for (const [target, path] of targets) {
    if (path === undefined) fallback = target;
    else if (target.handles(request)) return target;
  }
  return fallback;
}

interface Router {
  targets: PathTargets<UpgradeTarget>;
  listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

const routers = new WeakMap<Server, Router>();

/**
 * Throws when a WebSocketServer already serves `path` (or every path, for undefined) on `server`: the second
 * would never get a connection (a newcomer's review). An Error, not a TypeError: the option is well formed, the
 * path is taken, as a port is (EADDRINUSE).
 */
export function checkPathFree(server: object, path: string | undefined): void {
  const router = routers.get(server as Server);
  if (router === undefined) return;
  for (const taken of router.targets.values()) {
    if (taken !== path) continue;
    const what = path === undefined ? "every path (no options.path)" : `path ${JSON.stringify(path)}`;
    throw Object.assign(
      new Error(
        `another WebSocketServer already serves ${what} on this server: give each its own options.path, or close() the other first`,
      ),
      { code: "SJ_ERR_PATH_IN_USE" },
    );
  }
}

export function attachUpgradeTarget(server: Server, target: UpgradeTarget, path: string | undefined): void {
  checkPathFree(server, path);
  let router = routers.get(server);
  if (router === undefined) {
    const targets: PathTargets<UpgradeTarget> = new Map();
    const listener = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const target = routeByPath(targets, request);
      if (target !== undefined) target.handleUpgradeRequest(request, socket, head);
      else if (server.listenerCount("upgrade") === 1)
        writeRejection(socket, 404, "No WebSocket endpoint at this path");
    };
    router = { targets, listener };
    routers.set(server, router);
    server.on("upgrade", listener);
  }
  router.targets.set(target, path);
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
