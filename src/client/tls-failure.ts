import tls from "node:tls";

// What a failed TLS handshake to a wss: server says, read from OpenSSL's reason: a server that does not speak
// TLS on that port (plain HTTP bytes where a ServerHello should be), a server that refused the handshake with
// an alert (RFC 8446 §6.2), or no TLS version or cipher suite in common. Node puts the reason in `reason` (its
// ERR_SSL_* errors) or only inside the message (an EPROTO from a write: "write EPROTO …:error:0A00010B:SSL
// routines:ssl3_get_record:wrong version number:…"). Calling every EPROTO "does not speak TLS" sent users
// who had a real TLS server refusing them (a client certificate required, no shared version) the wrong way.
// The same reasons name an https: proxy's TLS failures (proxy-errors.ts), with the proxy's own advice.

/** Whose TLS failed: the wss: server, or an https: proxy (which has no client certificate or ALPN of ours). */
export type TlsPeer = "server" | "proxy";

/** TLS and certificate errors from Node and OpenSSL (their codes have no common prefix). */
export const TLS_ERROR =
  /^(ERR_SSL_|ERR_TLS_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_(GET|VERIFY)_|HOSTNAME_MISMATCH)/;

/** OpenSSL's reasons for bytes that are not TLS records (an HTTP server's answer, say). */
const NOT_TLS =
  /^(wrong version number|packet length too long|http request|https proxy request|unknown protocol)$/i;

/** An alert received from the server (RFC 8446 §6.2): "sslv3 alert handshake failure", "tlsv1 unrecognized name". */
const ALERT = /^(?:sslv3|tlsv1|tlsv13) (?:alert )?(.+)$/i;

/** Our own end found nothing to agree on in the server's answer. */
const NOTHING_IN_COMMON =
  /^(unsupported protocol|no protocols available|no shared cipher|no ciphers available|wrong ssl version|version too low)$/i;

const CLIENT_CERTIFICATE =
  /^(bad certificate|unknown ca|certificate unknown|unsupported certificate|certificate revoked|certificate expired|access denied)$/i;

/** What to do about the alerts whose cause is known, by the alert's description (RFC 8446 §6.2). */
function alertHint(description: string, peer: TlsPeer): string {
  const versions = `this client speaks ${tls.DEFAULT_MIN_VERSION} to ${tls.DEFAULT_MAX_VERSION}`;
  const proxy = peer === "proxy";
  if (/^handshake failure$/i.test(description))
    return proxy
      ? ": no TLS version or cipher suite both ends accept, or it requires a client certificate (none is sent to a proxy); its log says which"
      : ": no TLS version, cipher suite or certificate both ends accept, or it requires a client certificate (the cert and key options); its log says which";
  if (/^protocol version$/i.test(description))
    return `: no TLS version in common (${versions}); the ${peer}'s TLS settings must allow one of them`;
  if (proxy && (/^certificate required$/i.test(description) || CLIENT_CERTIFICATE.test(description)))
    return ": it wants a client certificate, and none is sent to a proxy";
  if (/^certificate required$/i.test(description))
    return ": it requires a client certificate: give the cert and key options";
  if (CLIENT_CERTIFICATE.test(description))
    return ": it did not accept this client's certificate (the cert and key options)";
  if (/^unrecognized name$/i.test(description))
    return proxy
      ? ": it has no certificate for this host name (SNI): check the host of the proxy URL"
      : ": it has no certificate for this host name (SNI): check the URL's host or the servername option";
  if (/^no application protocol$/i.test(description) && !proxy)
    return ': it takes none of the application protocols offered by ALPN (with http2 "always", only h2)';
  if (/^insufficient security$/i.test(description))
    return ": it wants stronger TLS parameters than this client offers";
  return "; its log says why";
}

/** OpenSSL's reason: Node's `reason`, else the field after the function name in the message's error line. */
function opensslReason(error: NodeJS.ErrnoException & { reason?: unknown }): string | null {
  if (typeof error.reason === "string" && error.reason !== "" && "library" in error) return error.reason;
  const match = /error:[0-9A-Fa-f]+:[^:\n]*:[^:\n]*:([^:\n]+)/.exec(error.message);
  return match === null ? null : match[1].trim();
}

/** The message of a TLS failure of the handshake request to a wss: server (`detail`: Node's first line). */
export function tlsFailureMessage(error: NodeJS.ErrnoException, detail: string): string {
  return `TLS failed: ${tlsFailureText(error, detail, "server")}`;
}

/**
 * What a TLS failure says after "TLS failed: ", from OpenSSL's reason, else `detail` (Node's first line): of
 * the handshake request to a wss: server, or of the connection to an https: proxy (`peer` "proxy").
 */
export function tlsFailureText(error: NodeJS.ErrnoException, detail: string, peer: TlsPeer): string {
  const reason = opensslReason(error);
  if (reason === null) return detail;
  if (NOT_TLS.test(reason))
    return peer === "proxy"
      ? `the proxy does not speak TLS on this port (a plain HTTP proxy? then its URL is http://, not https://; OpenSSL: ${reason})`
      : `the server does not speak TLS on this port (a plain ws:// server? then use ws://, not wss://; OpenSSL: ${reason})`;
  const alert = ALERT.exec(reason);
  if (alert !== null)
    return `the ${peer} refused the TLS handshake (OpenSSL: ${reason})${alertHint(alert[1], peer)}`;
  if (NOTHING_IN_COMMON.test(reason))
    return `the ${peer} and this client have no TLS version or cipher suite in common (OpenSSL: ${reason}); this client speaks ${tls.DEFAULT_MIN_VERSION} to ${tls.DEFAULT_MAX_VERSION}`;
  return detail;
}
