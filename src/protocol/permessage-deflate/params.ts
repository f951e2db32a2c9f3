import { type ExtensionOffer, formatExtensionOffers } from "../header-grammar.js";
import { MAX_WINDOW_BITS, type ResolvedDeflateOptions } from "./options.js";

// Negotiation of permessage-deflate (RFC 7692 §5, §7.1) for both roles: what a client offers, which offer a
// server accepts and what it answers, and whether a client can live with the answer. Pure functions over
// parsed Sec-WebSocket-Extensions elements (header-grammar.ts has already unquoted the values).

export const EXTENSION_NAME = "permessage-deflate";

/** What both ends agreed on (§7.1); window bits are 15 where nothing was said. */
export interface DeflateParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** The four parameters as written in one offer or response; `true` is a parameter without a value. */
interface WrittenParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | true | undefined;
}

/**
 * §7.1.2.1/§7.1.2.2: a window-bits value is "a decimal integer value without leading zeroes between 8 to 15,
 * inclusive" (after unquoting, RFC 6455 §9.1). So "08", "+9", "9.0" and "16" are all invalid.
 */
function parseWindowBits(value: string): number | null {
  if (value.length === 1) {
    const c = value.charCodeAt(0);
    return c >= 0x38 && c <= 0x39 ? c - 0x30 : null; // "8" or "9"
  }
  if (value.length === 2 && value.charCodeAt(0) === 0x31) {
    const c = value.charCodeAt(1);
    return c >= 0x30 && c <= 0x35 ? 10 + c - 0x30 : null; // "10".."15"
  }
  return null;
}

/**
 * Reads the parameters of one element. Returns an error message for what RFC 7692 §7 lists as grounds to
 * decline an offer (server) or fail the connection (client): a parameter not defined for this use, a
 * parameter with an invalid value, or the same parameter twice. Names are compared exactly: the RFC defines
 * them in lower case, as Chromium and ws compare them.
 */
function readParameters(
  params: ExtensionOffer["params"],
  use: "offer" | "response",
): WrittenParameters | string {
  const out: WrittenParameters = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) return `duplicate parameter ${name}`;
    seen.add(name);
    switch (name) {
      // §7.1.1.1/§7.1.1.2: "has no value".
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `${name} must not have a value`;
        if (name === "server_no_context_takeover") out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      // §7.1.2.1: always has a value, in offers and responses.
      case "server_max_window_bits": {
        const bits = value === true ? null : parseWindowBits(value);
        if (bits === null) return `invalid ${name} value`;
        out.serverMaxWindowBits = bits;
        break;
      }
      // §7.1.2.2: "may have no value" in an offer; in a response it must have one.
      case "client_max_window_bits": {
        if (value === true) {
          if (use === "response") return `${name} in a response must have a value`;
          out.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === null) return `invalid ${name} value`;
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${name}`;
    }
  }
  return out;
}

// ---- client ------------------------------------------------------------------------------------------

/** The client's single offer; by default `permessage-deflate; client_max_window_bits`, as browsers send. */
export function clientOffer(options: ResolvedDeflateOptions): ExtensionOffer {
  const params: ExtensionOffer["params"] = [];
  if (options.serverNoContextTakeover) params.push(["server_no_context_takeover", true]);
  if (options.clientNoContextTakeover) params.push(["client_no_context_takeover", true]);
  if (options.serverMaxWindowBits !== undefined) {
    params.push(["server_max_window_bits", String(options.serverMaxWindowBits)]);
  }
  // §7.1.2.2: always sent, so the server may limit our window; a value promises we use at most that.
  params.push([
    "client_max_window_bits",
    options.clientMaxWindowBits === undefined ? true : String(options.clientMaxWindowBits),
  ]);
  return { name: EXTENSION_NAME, params };
}

/**
 * Checks the server's response against our offer and returns the agreed parameters, or throws an Error
 * whose message says why the client must fail the connection (§7: "A client MUST _Fail the WebSocket
 * Connection_ if the peer server accepted an extension negotiation offer for this extension with an
 * extension negotiation response meeting any of the following conditions").
 */
export function acceptServerResponse(
  response: ExtensionOffer,
  options: ResolvedDeflateOptions,
): DeflateParameters {
  const fail = (why: string): never => {
    throw new Error(`Invalid permessage-deflate response: ${why}`);
  };
  if (response.name !== EXTENSION_NAME) fail(`unexpected extension ${response.name}`);
  const written = readParameters(response.params, "response");
  if (typeof written === "string") return fail(written);

  // §7.1.2.1: the server answers with "the same or smaller value as the offer". It MAY also send one we
  // did not ask for. When it leaves out one we asked for, it will use up to 15 — which we can decode,
  // so the configuration is one we support (the only ground left to fail on) and we accept it.
  const serverBits = written.serverMaxWindowBits ?? MAX_WINDOW_BITS;
  if (
    options.serverMaxWindowBits !== undefined &&
    written.serverMaxWindowBits !== undefined &&
    written.serverMaxWindowBits > options.serverMaxWindowBits
  ) {
    fail(
      `server_max_window_bits=${written.serverMaxWindowBits} exceeds the ${options.serverMaxWindowBits} offered`,
    );
  }
  // §7.1.2.2: the response value is "equal to or smaller than the received value" when we sent one. (We
  // always offer the parameter, so its presence in the response is always allowed.)
  const offeredClientBits = options.clientMaxWindowBits ?? MAX_WINDOW_BITS;
  const responseClientBits = written.clientMaxWindowBits as number | undefined;
  if (
    options.clientMaxWindowBits !== undefined &&
    responseClientBits !== undefined &&
    responseClientBits > options.clientMaxWindowBits
  ) {
    fail(`client_max_window_bits=${responseClientBits} exceeds the ${options.clientMaxWindowBits} offered`);
  }
  return {
    // §7.1.1.1: the server may announce it even if we did not ask. If we asked and it did not confirm, it
    // keeps its window, which our decompressor handles; we accept (same reasoning as above).
    serverNoContextTakeover: written.serverNoContextTakeover,
    // §7.1.1.2: the server may forbid our context takeover; our own promise stands regardless.
    clientNoContextTakeover: written.clientNoContextTakeover || options.clientNoContextTakeover,
    serverMaxWindowBits: serverBits,
    clientMaxWindowBits: Math.min(offeredClientBits, responseClientBits ?? MAX_WINDOW_BITS),
  };
}

// ---- server ------------------------------------------------------------------------------------------

/** The accepted offer: the response element and the agreed parameters. */
export interface AcceptedOffer {
  response: ExtensionOffer;
  params: DeflateParameters;
}

/**
 * Accepts the first acceptable permessage-deflate offer, in the client's order of preference (§5), or
 * returns null when every one is declined (the connection then goes on without compression).
 */
export function acceptClientOffers(
  offers: readonly ExtensionOffer[],
  options: ResolvedDeflateOptions,
): AcceptedOffer | null {
  for (const offer of offers) {
    if (offer.name !== EXTENSION_NAME) continue;
    const accepted = acceptOffer(offer, options);
    if (accepted !== null) return accepted;
  }
  return null;
}

function acceptOffer(offer: ExtensionOffer, options: ResolvedDeflateOptions): AcceptedOffer | null {
  // §7: "A server MUST decline an extension negotiation offer for this extension if" it has a parameter
  // not defined for an offer, an invalid value, or a parameter twice.
  const written = readParameters(offer.params, "offer");
  if (typeof written === "string") return null;

  // §7.1.1.1: accepting an offer with server_no_context_takeover means including it; we may include it
  // even when not asked.
  const serverNoContextTakeover = options.serverNoContextTakeover || written.serverNoContextTakeover;
  // §7.1.1.2: the server may ignore the client's client_no_context_takeover or confirm it; confirming lets
  // us share decompressors between connections, so we always confirm.
  const clientNoContextTakeover = options.clientNoContextTakeover || written.clientNoContextTakeover;

  // §7.1.2.1: with the parameter in the offer, the response carries "the same or smaller value"; without
  // it, we may still announce the smaller window we compress with.
  let serverMaxWindowBits = MAX_WINDOW_BITS;
  let announceServerBits = false;
  if (written.serverMaxWindowBits !== undefined) {
    serverMaxWindowBits = Math.min(
      written.serverMaxWindowBits,
      options.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    );
    announceServerBits = true;
  } else if (options.serverMaxWindowBits !== undefined && options.serverMaxWindowBits < MAX_WINDOW_BITS) {
    serverMaxWindowBits = options.serverMaxWindowBits;
    announceServerBits = true;
  }

  // §7.1.2.2: "If a received extension negotiation offer doesn't have the client_max_window_bits extension
  // parameter, the corresponding extension negotiation response to the offer MUST NOT include" it. So a
  // server configured to limit the client's window cannot accept such an offer ("the server doesn't support
  // the offered configuration"). With a value in the offer, the client promises no more than that; we hold
  // it to the smaller of that and our own limit by answering with it.
  let clientMaxWindowBits = MAX_WINDOW_BITS;
  let announceClientBits = false;
  if (written.clientMaxWindowBits === undefined) {
    if (options.clientMaxWindowBits !== undefined && options.clientMaxWindowBits < MAX_WINDOW_BITS)
      return null;
  } else {
    const offered = written.clientMaxWindowBits === true ? MAX_WINDOW_BITS : written.clientMaxWindowBits;
    clientMaxWindowBits = Math.min(offered, options.clientMaxWindowBits ?? MAX_WINDOW_BITS);
    announceClientBits = clientMaxWindowBits < MAX_WINDOW_BITS;
  }

  const params: ExtensionOffer["params"] = [];
  if (serverNoContextTakeover) params.push(["server_no_context_takeover", true]);
  if (clientNoContextTakeover) params.push(["client_no_context_takeover", true]);
  if (announceServerBits) params.push(["server_max_window_bits", String(serverMaxWindowBits)]);
  if (announceClientBits) params.push(["client_max_window_bits", String(clientMaxWindowBits)]);
  return {
    response: { name: EXTENSION_NAME, params },
    params: { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits },
  };
}

/** The Sec-WebSocket-Extensions value for one element. */
export function formatElement(element: ExtensionOffer): string {
  return formatExtensionOffers([element]);
}
