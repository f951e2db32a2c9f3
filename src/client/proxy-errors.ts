import { HandshakeError } from "../protocol/errors.js";
import type { ResolvedProxy } from "./proxy.js";

// What a failed tunnel says: which proxy (its label, never its credentials) and what went wrong.

/** TLS and certificate errors from Node and OpenSSL (their codes have no common prefix). */
const TLS_ERROR =
  /^(ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_(GET|VERIFY)_|HOSTNAME_MISMATCH|EPROTO)/;

/** A network error on the way to the proxy (not yet through it); Node's error stays the `cause`. */
export function proxyNetworkError(proxy: ResolvedProxy, error: NodeJS.ErrnoException): HandshakeError {
  const code = error.code ?? "";
  const detail = error.message.split("\n")[0];
  if (proxy.scheme === "https" && (TLS_ERROR.test(code) || "library" in error)) {
    return new HandshakeError(
      "SJ_ERR_PROXY_TLS_FAILED",
      `TLS to the proxy ${proxy.label} failed: ${detail}`,
      {
        cause: error,
      },
    );
  }
  const why = code === "ENOTFOUND" || code === "EAI_AGAIN" ? `its host was not found (${code})` : `${detail}`;
  return new HandshakeError("SJ_ERR_PROXY_UNREACHABLE", `proxy ${proxy.label} unreachable: ${why}`, {
    cause: error,
  });
}

/**
 * The tunnel closed after the proxy's 2xx, before the target's handshake answer: the proxy or the target ended
 * it, and which one cannot be told from here (so no hint about the target, such as "a TLS server?").
 */
export function tunnelClosedError(proxy: ResolvedProxy, error: NodeJS.ErrnoException): HandshakeError {
  return new HandshakeError(
    "SJ_ERR_NETWORK",
    `the connection through the proxy ${proxy.label} closed before the server answered (the proxy or the server ended the tunnel)`,
    { cause: error },
  );
}

/** A proxy's text (a status line) made safe to print: control and non-ASCII characters escaped, bounded. */
export function escapeProxyText(text: string, maxLength = 200): string {
  const escaped = text.replace(/[^\x20-\x7e]/g, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  return escaped.length > maxLength ? `${escaped.slice(0, maxLength)}…` : escaped;
}
