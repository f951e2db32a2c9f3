import type { Connection } from "./connection.js";
import type { Transport } from "./connection-options.js";

// The socket listeners shared by every connection (called with the socket as `this`), not four closures each.

export function discard(): void {}

export const kConnection = Symbol("sockjet.connection");
export type ConnectedSocket = Transport & { [kConnection]: Connection };

export function onSocketData(this: ConnectedSocket, chunk: Buffer): void {
  this[kConnection].onData(chunk);
}

export function onSocketEnd(this: ConnectedSocket): void {
  this[kConnection].onEnd();
}

export function onSocketError(this: ConnectedSocket, error: Error): void {
  this[kConnection].socketError ??= error;
}

export function onSocketClose(this: ConnectedSocket): void {
  this[kConnection].onSocketClose();
}
