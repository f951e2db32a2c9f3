import type { Server } from "node:net";

/**
 * Whether `server`'s coming listen() succeeds: true once it listens, false if it fails. Its listeners run
 * first: a WebSocketServer forwards 'error' to its own 'error', which throws when nobody listens there, and
 * listeners after that one would never run (review 137: close() then never settled).
 */
export function listenOutcome(server: Server): Promise<boolean> {
  return new Promise((resolve) => {
    const onListening = () => {
      server.off("error", onError);
      resolve(true);
    };
    const onError = () => {
      server.off("listening", onListening);
      resolve(false);
    };
    server.prependOnceListener("listening", onListening);
    server.prependOnceListener("error", onError);
  });
}
