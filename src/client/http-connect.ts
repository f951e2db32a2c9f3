import http from "node:http";
import https from "node:https";
import { isIP, type Socket } from "node:net";
import { HandshakeError } from "../protocol/errors.js";
import type { ResolvedProxy } from "./proxy.js";
import { escapeProxyText, proxyNetworkError } from "./proxy-errors.js";

// A tunnel through an HTTP proxy (RFC 9110 §9.3.6 CONNECT), or through an HTTPS proxy: TLS to the proxy first,
// then the same CONNECT inside it. node:http parses the proxy's answer (and bounds its size); a 2xx makes the
// connection a tunnel, anything else is the proxy's refusal, quoted escaped in the error.

export function connectThroughHttpProxy(
  proxy: ResolvedProxy,
  host: string,
  port: number,
  onOpen: (socket: Socket) => void,
  onFailure: (error: HandshakeError) => void,
): { abort(): void } {
  // RFC 9110 §9.3.6: the request target is the authority (RFC 3986 §3.2.2: IPv6 literals in brackets).
  const target = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  const headers: Record<string, string> = { Host: target };
  // RFC 9110 §11.7.2 Proxy-Authorization, RFC 7617 Basic: base64 of user-id ":" password, in UTF-8.
  const sendsCredentials = proxy.username !== "" || proxy.password !== "";
  if (sendsCredentials) {
    const token = Buffer.from(`${proxy.username}:${proxy.password}`, "utf8").toString("base64");
    headers["Proxy-Authorization"] = `Basic ${token}`;
  }
  const options: https.RequestOptions = {
    host: proxy.host,
    port: proxy.port,
    method: "CONNECT",
    path: target,
    headers,
    agent: false,
  };
  if (proxy.scheme === "https") {
    options.ca = proxy.tls.ca;
    options.rejectUnauthorized = proxy.tls.rejectUnauthorized;
    // SNI only for names (RFC 6066 §3).
    if (isIP(proxy.host) === 0) options.servername = proxy.host;
  }

  let done = false;
  let reached = false;
  const finish = (error: HandshakeError) => {
    if (done) return;
    done = true;
    request.destroy();
    onFailure(error);
  };
  const request = (proxy.scheme === "https" ? https : http).request(options);
  // Without an agent node:http would add "Connection: close", which asks the proxy to close the connection
  // after its answer (RFC 9112 §9.6): the tunnel itself. The request is only CONNECT, Host and credentials.
  request.removeHeader("connection");
  request.on("socket", (socket: Socket) => {
    socket.once(proxy.scheme === "https" ? "secureConnect" : "connect", () => {
      reached = true;
    });
  });
  request.on("connect", (response: http.IncomingMessage, socket: Socket, head: Buffer) => {
    if (done) {
      socket.destroy();
      return;
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status <= 299) {
      done = true;
      if (head.length > 0) socket.unshift(head);
      onOpen(socket);
      return;
    }
    socket.destroy();
    const line = escapeProxyText(
      `HTTP/${response.httpVersion} ${status} ${response.statusMessage ?? ""}`.trimEnd(),
    );
    // RFC 9110 §15.5.8: 407, the proxy wants credentials. A 401 to CONNECT can only be the proxy's too (nothing
    // reached the target yet): tinyproxy 1.11 answers wrong credentials with 401 (after a 3 s delay).
    if (status === 407 || status === 401) {
      const what = sendsCredentials ? "rejected the credentials" : "requires credentials";
      finish(
        new HandshakeError(
          "SJ_ERR_PROXY_AUTH_REQUIRED",
          `proxy ${proxy.label} ${what}: it answered ${line}`,
          {
            status,
          },
        ),
      );
      return;
    }
    finish(
      new HandshakeError(
        "SJ_ERR_PROXY_REFUSED",
        `proxy ${proxy.label} refused to CONNECT: it answered ${line}`,
        {
          status,
        },
      ),
    );
  });
  request.on("error", (error: NodeJS.ErrnoException) => {
    if (!reached) {
      finish(proxyNetworkError(proxy, error));
      return;
    }
    const detail = escapeProxyText(error.message.split("\n")[0]);
    const what = (error.code ?? "").startsWith("HPE_")
      ? `sent a malformed answer to CONNECT (${detail})`
      : `closed the connection before answering CONNECT (${detail})`;
    finish(new HandshakeError("SJ_ERR_PROXY_PROTOCOL", `proxy ${proxy.label} ${what}`, { cause: error }));
  });
  request.end();
  return {
    abort: () => {
      done = true;
      request.destroy();
    },
  };
}
