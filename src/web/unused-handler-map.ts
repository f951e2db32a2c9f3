// Node's EventTarget constructor gives every instance two Maps: one for its listeners (kEvents), and one
// (kHandlers) that only the on* attributes Node defines for its own classes (MessagePort, AbortSignal...)
// through its internal defineEventHandler() read and write. WebSocket's on* attributes are its own
// (event-handlers.ts): for it that second Map is never used, yet an empty Map with its hash table costs
// 184 bytes per socket, most of what an idle connection holds beyond Node's socket (issue 17).
//
// The key is Node's private symbol, found once by its description on a probe instance. Each WebSocket's
// empty Map is swapped for one shared empty Map (still a Map: Node's code that reads it finds nothing, as
// before). Where Node has no such field, or it is not an empty Map, nothing is done.

import { isMap } from "node:util/types";

function findHandlerKey(): symbol | null {
  const probe = new EventTarget();
  for (const key of Object.getOwnPropertySymbols(probe)) {
    const value = (probe as unknown as Record<symbol, unknown>)[key];
    if (key.description === "kHandlers" && isMap(value) && (value as Map<unknown, unknown>).size === 0)
      return key;
  }
  return null;
}

const handlerKey = findHandlerKey();
const sharedEmptyHandlers = new Map<never, never>();

/** Lets `target`'s own empty handler Map go: it points at the shared one instead. Call right after super(). */
export function releaseUnusedHandlerMap(target: EventTarget): void {
  if (handlerKey !== null) (target as unknown as Record<symbol, unknown>)[handlerKey] = sharedEmptyHandlers;
}
