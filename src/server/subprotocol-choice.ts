import type { IncomingMessage } from "node:http";
import type { WebSocketServerOptions } from "./options.js";
import { RESUME_PROTOCOL } from "./resume-wire.js";

// Which subprotocol a server answers with (RFC 6455 §4.2.2 item 5.4): one rule, apart from the handshake.

/** The subprotocol to answer with, "" for none; `resumeOn`: the server's resume option is set. */
export function selectSubprotocol(
  offered: string[],
  request: IncomingMessage,
  options: WebSocketServerOptions,
  resumeOn: boolean,
): string {
  if (offered.length === 0) return "";
  // docs/resume.md: resume is the server's own subprotocol, chosen before the app's when offered.
  if (resumeOn && offered.includes(RESUME_PROTOCOL)) return RESUME_PROTOCOL;
  if (options.selectProtocol !== undefined) {
    const chosen = options.selectProtocol(offered, request);
    if (chosen === null || chosen === undefined || chosen === "") return "";
    // RFC 6455 §4.2.2 item 5.4: the selected value must be one the client offered.
    if (!offered.includes(chosen))
      throw new Error(`selectProtocol returned '${chosen}', which was not offered`);
    return chosen;
  }
  // RFC 6455 §4.2.2 item 5.4 leaves the choice to the server: its order of preference decides, not the
  // client's (a client lists what it can speak; the server knows which of its versions it prefers).
  const supported = options.protocols ?? [];
  return supported.find((p) => offered.includes(p)) ?? "";
}
