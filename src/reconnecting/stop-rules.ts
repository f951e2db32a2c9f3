import { type CloseEvent, HandshakeError } from "../index.js";
import type { ResolvedOptions } from "./options.js";

// When a ReconnectingWebSocket gives up rather than retry: a close or a refusal that another attempt would
// only meet again. Apart from the class: a rule on the options and on how the last connection ended, with no
// state of its own.

/** A close that means "do not come back": one of stopCloseCodes, or a refusal with one of stopStatuses. */
export function closeStopsRetries(
  event: CloseEvent,
  socketError: unknown,
  options: Pick<ResolvedOptions, "stopCloseCodes" | "stopStatuses">,
): boolean {
  if (socketError instanceof HandshakeError) {
    // Credentials a proxy refused (HTTP 407/401, SOCKS5) fail the same way on every attempt: retrying only
    // hammers the proxy and risks locking the account.
    if (socketError.code === "SJ_ERR_PROXY_AUTH_REQUIRED") return true;
    return socketError.status !== null && options.stopStatuses.has(socketError.status);
  }
  return options.stopCloseCodes.has(event.code);
}
