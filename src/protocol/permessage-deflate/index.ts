import type { PerMessageExtension } from "../extension.js";
import type { ExtensionOffer } from "../header-grammar.js";
import { type CodecConfig, PerMessageDeflate } from "./codec.js";
import {
  MAX_WINDOW_BITS,
  type PerMessageDeflateOptions,
  type ResolvedDeflateOptions,
  resolveDeflateOptions,
} from "./options.js";
import {
  acceptClientOffers,
  acceptServerResponse,
  clientOffer,
  type DeflateParameters,
  EXTENSION_NAME,
  formatElement,
} from "./params.js";

// permessage-deflate (RFC 7692) for both roles, as the negotiator objects the client handshake
// (ClientExtensionNegotiator) and the server (ServerExtensionNegotiator) take. They are declared here
// structurally, so that the protocol layer does not import the client or server layers.

export { PerMessageDeflate } from "./codec.js";
export type { PerMessageDeflateOptions } from "./options.js";
export type { DeflateParameters } from "./params.js";
export { setZlibConcurrency, zlibSlotUsage } from "./zlib-slots.js";

/** The `perMessageDeflate` option: true (the defaults), false (off), or options. */
export type PerMessageDeflateOption = boolean | PerMessageDeflateOptions;

export interface DeflateClientNegotiator {
  readonly name: string;
  offer(): string;
  accept(response: ExtensionOffer): PerMessageExtension;
}

export interface DeflateServerNegotiator {
  readonly name: string;
  negotiate(offers: ExtensionOffer[]): { response: string; extension: PerMessageExtension } | null;
}

/** The client side: offers permessage-deflate and builds the codec from the server's response. */
export function perMessageDeflateClient(options?: PerMessageDeflateOptions): DeflateClientNegotiator {
  const resolved = resolveDeflateOptions(options);
  const offer = formatElement(clientOffer(resolved));
  return {
    name: EXTENSION_NAME,
    offer: () => offer,
    // Throws on a response the client must reject (RFC 7692 §7): the handshake then fails.
    accept: (response) =>
      new PerMessageDeflate(codecConfig("client", acceptServerResponse(response, resolved), resolved)),
  };
}

/** The server side: accepts the first acceptable permessage-deflate offer, or none. */
export function perMessageDeflateServer(options?: PerMessageDeflateOptions): DeflateServerNegotiator {
  const resolved = resolveDeflateOptions(options);
  return {
    name: EXTENSION_NAME,
    negotiate: (offers) => {
      const accepted = acceptClientOffers(offers, resolved);
      if (accepted === null) return null;
      return {
        response: formatElement(accepted.response),
        extension: new PerMessageDeflate(codecConfig("server", accepted.params, resolved)),
      };
    },
  };
}

/**
 * What `new WebSocketServer({ perMessageDeflate: true })` negotiates: no context takeover in either direction.
 * Every zlib stream is then shared process-wide (none is held per connection): measured with 1,000
 * connections, deflate costs the server +3.5 KiB per connection this way against +241 KiB with context
 * takeover both ways, for a ratio of 0.30 instead of 0.19 on ~1 KiB JSON (bench/deflate.ts, docs/deflate.md).
 * Fields of a `perMessageDeflate` options object override these.
 */
export const SERVER_DEFLATE_DEFAULTS: Readonly<PerMessageDeflateOptions> = Object.freeze({
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
});

/** Resolves the client's `perMessageDeflate` option (validated now: a bad value throws where it was passed). */
export function clientDeflateFromOption(option: PerMessageDeflateOption): DeflateClientNegotiator | null {
  if (option === false) return null;
  return perMessageDeflateClient(option === true ? undefined : option);
}

/** Resolves the server's `perMessageDeflate` option over SERVER_DEFLATE_DEFAULTS. */
export function serverDeflateFromOption(option: PerMessageDeflateOption): DeflateServerNegotiator | null {
  if (option === false) return null;
  if (option !== true && (option === null || typeof option !== "object")) {
    throw new TypeError("perMessageDeflate must be a boolean or an options object");
  }
  return perMessageDeflateServer({ ...SERVER_DEFLATE_DEFAULTS, ...(option === true ? {} : option) });
}

/** Turns the agreed parameters into one endpoint's compressor and decompressor settings. */
export function codecConfig(
  role: "client" | "server",
  params: DeflateParameters,
  options: ResolvedDeflateOptions,
): CodecConfig {
  const client = role === "client";
  return {
    thresholdBytes: options.thresholdBytes,
    level: options.level,
    memLevel: options.memLevel,
    compressWindowBits: client ? params.clientMaxWindowBits : params.serverMaxWindowBits,
    compressNoContextTakeover: client ? params.clientNoContextTakeover : params.serverNoContextTakeover,
    // A client that did not ask for server_max_window_bits, which the server may announce all the same
    // (§7.1.2.1), decompresses with 15 bits: the limit binds the server, and Chromium, which never asks,
    // inflates so whatever the answer says, so a server that reaches past its own limit works with it.
    decompressWindowBits: client
      ? options.serverMaxWindowBits === undefined
        ? MAX_WINDOW_BITS
        : params.serverMaxWindowBits
      : params.clientMaxWindowBits,
    decompressNoContextTakeover: client ? params.serverNoContextTakeover : params.clientNoContextTakeover,
  };
}
