import { HandshakeError } from "../protocol/errors.js";
import type { ResolvedProxy } from "./proxy.js";
import { TLS_ERROR, tlsFailureText } from "./tls-failure.js";

// What a failed tunnel says: which proxy (its label, never its credentials) and what went wrong.

/** A TLS error of the connection to an https: proxy (an EPROTO from a write has OpenSSL's reason in its message). */
export function isProxyTlsError(proxy: ResolvedProxy, error: NodeJS.ErrnoException): boolean {
  const code = error.code ?? "";
  return proxy.scheme === "https" && (code === "EPROTO" || TLS_ERROR.test(code) || "library" in error);
}

/** A network error on the way to the proxy (not yet through it); Node's error stays the `cause`. */
export function proxyNetworkError(proxy: ResolvedProxy, error: NodeJS.ErrnoException): HandshakeError {
  const code = error.code ?? "";
  const detail = error.message.split("\n")[0];
  // As for a wss: server (tls-failure.ts): OpenSSL's reason says whether the proxy speaks TLS at all, or
  // refused the handshake.
  if (isProxyTlsError(proxy, error)) {
    return new HandshakeError(
      "SJ_ERR_PROXY_TLS_FAILED",
      `TLS to the proxy ${proxy.label} failed: ${tlsFailureText(error, detail, "proxy")}`,
      { cause: error },
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
  let escaped = "";
  for (const c of text) {
    const code = c.codePointAt(0) ?? 0;
    const shown =
      code >= 0x20 && code <= 0x7e
        ? c
        : code < 0x100
          ? `\\x${code.toString(16).padStart(2, "0")}`
          : `\\u${code.toString(16).padStart(4, "0")}`;
    // Cut before an escape that would not fit, never inside it.
    if (escaped.length + shown.length > maxLength) return `${escaped}…`;
    escaped += shown;
  }
  return escaped;
}
