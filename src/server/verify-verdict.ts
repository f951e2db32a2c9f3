import { STATUS_CODES } from "node:http";
import type { Rejection } from "./options.js";

// What a verify hook's answer means. `false` → 403; an object with a `status` → a rejection with that status;
// anything else accepts, an object without a `status` included ("verified, here is the app's data"). A
// promise or any other thenable is awaited (a non-native thenable is a promise too: Promise.resolve() adopts
// it, as `await` would).

export type Verdict =
  | { accept: true }
  | { accept: false; status: number; message: string; headers: Record<string, string> | undefined };

/** Whether `value` is a promise or a thenable (reading `then` may throw: the caller treats that as a bug). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * The verdict of a settled verify result. A rejection's status must be an error status (RFC 9110 §15.5,
 * §15.6: 400–599): a 101 or 200 would tell the client the handshake went on. Anything else is the hook's bug:
 * a TypeError, which the server answers with 500.
 */
export function interpretVerdict(value: unknown): Verdict {
  // 403, not 401 (ws answers 401): a 401 must carry a WWW-Authenticate challenge (RFC 9110 §15.5.2), and a
  // bare `false` names no authentication scheme; a 403 says "understood, refused" (§15.5.4).
  if (value === false) return { accept: false, status: 403, message: "Forbidden", headers: undefined };
  if (typeof value !== "object" || value === null) return { accept: true };
  const rejection = value as Rejection;
  const status = rejection.status;
  // An object without a status is an accepting answer that carries data (a user, a session), not a rejection.
  if (status === undefined) return { accept: true };
  if (typeof status !== "number" || !Number.isInteger(status) || status < 400 || status > 599) {
    throw new TypeError(`verify returned a rejection with status ${String(status)}: expected 400–599`);
  }
  const headers = rejection.headers;
  if (headers !== undefined && (typeof headers !== "object" || headers === null)) {
    throw new TypeError("verify returned a rejection whose headers are not an object");
  }
  const message =
    rejection.message === undefined ? (STATUS_CODES[status] ?? "Rejected") : String(rejection.message);
  return { accept: false, status, message, headers };
}
