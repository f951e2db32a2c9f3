import net, { type Socket } from "node:net";
import { HandshakeError } from "../protocol/errors.js";
import type { ResolvedProxy } from "./proxy.js";
import { proxyNetworkError } from "./proxy-errors.js";

// A tunnel through a SOCKS5 proxy (RFC 1928), with no authentication or username/password (RFC 1929). Host
// names go to the proxy as they are (ATYP 3): the proxy resolves them, so the client needs no DNS and leaks no
// lookups, for socks5: and socks5h: alike.

const VERSION = 0x05;
const METHOD_NONE = 0x00;
const METHOD_USERNAME = 0x02;
const NO_ACCEPTABLE_METHOD = 0xff;
const COMMAND_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

/** RFC 1928 §6: the REP field of a reply. */
const REPLIES: Record<number, string> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

type Step = "method" | "authentication" | "reply";

export function connectThroughSocks5(
  proxy: ResolvedProxy,
  host: string,
  port: number,
  onOpen: (socket: Socket) => void,
  onFailure: (error: HandshakeError) => void,
): { abort(): void } {
  const withCredentials = proxy.username !== "" || proxy.password !== "";
  const address = destinationAddress(host);
  if (address === null) {
    // Deferred, so that the caller's failure path is asynchronous as for every other failure.
    setImmediate(() =>
      onFailure(
        new HandshakeError(
          "SJ_ERR_PROXY_TARGET_REFUSED",
          "the target host name is too long for SOCKS5 (255 bytes)",
        ),
      ),
    );
    return { abort: () => {} };
  }

  let step: Step = "method";
  let reached = false;
  let done = false;
  let pending: Buffer = Buffer.alloc(0);
  const socket = net.connect({ ...proxy.local, host: proxy.host, port: proxy.port });

  const fail = (code: ConstructorParameters<typeof HandshakeError>[0], message: string, cause?: unknown) => {
    if (done) return;
    done = true;
    socket.destroy();
    onFailure(new HandshakeError(code, `SOCKS5 proxy ${proxy.label} ${message}`, { cause }));
  };

  socket.once("connect", () => {
    reached = true;
    // RFC 1928 §3: VER, NMETHODS, METHODS.
    const methods = withCredentials ? [METHOD_NONE, METHOD_USERNAME] : [METHOD_NONE];
    socket.write(Buffer.from([VERSION, methods.length, ...methods]));
  });
  const onError = (error: NodeJS.ErrnoException) => {
    if (done) return;
    if (!reached) {
      done = true;
      socket.destroy();
      onFailure(proxyNetworkError(proxy, error));
      return;
    }
    fail("SJ_ERR_PROXY_PROTOCOL", `failed during the negotiation (${step}): ${error.message}`, error);
  };
  const onClose = () =>
    fail("SJ_ERR_PROXY_PROTOCOL", `closed the connection during the negotiation (${step})`);
  socket.on("error", onError);
  socket.on("close", onClose);

  const onData = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    advance();
  };
  socket.on("data", onData);

  const sendConnect = () => {
    step = "reply";
    // RFC 1928 §4: VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT (network order).
    const portBytes = Buffer.from([port >> 8, port & 0xff]);
    socket.write(Buffer.concat([Buffer.from([VERSION, COMMAND_CONNECT, 0x00]), address, portBytes]));
  };

  const advance = () => {
    if (done) return;
    if (step === "method") {
      if (pending.length < 2) return;
      const [version, method] = pending;
      pending = pending.subarray(2);
      if (version !== VERSION)
        return fail("SJ_ERR_PROXY_PROTOCOL", `answered with SOCKS version ${version}, not 5`);
      if (method === NO_ACCEPTABLE_METHOD) {
        // RFC 1928 §3: X'FF' NO ACCEPTABLE METHODS.
        return fail(
          "SJ_ERR_PROXY_AUTH_REQUIRED",
          withCredentials
            ? "accepts none of the offered methods (no authentication, username/password)"
            : "requires authentication (it accepts no connection without credentials)",
        );
      }
      if (method === METHOD_USERNAME && withCredentials) {
        step = "authentication";
        // RFC 1929 §2: VER 1, ULEN, UNAME, PLEN, PASSWD.
        const username = Buffer.from(proxy.username, "utf8");
        const password = Buffer.from(proxy.password, "utf8");
        socket.write(
          Buffer.concat([
            Buffer.from([0x01, username.length]),
            username,
            Buffer.from([password.length]),
            password,
          ]),
        );
      } else if (method === METHOD_NONE) {
        sendConnect();
      } else {
        return fail("SJ_ERR_PROXY_PROTOCOL", `chose method ${method}, which was not offered`);
      }
    }
    if (step === "authentication") {
      if (pending.length < 2) return;
      // RFC 1929 §2: the reply is VER X'01', STATUS; X'00' is success, anything else a failure.
      if (pending[0] !== 0x01) {
        return fail(
          "SJ_ERR_PROXY_PROTOCOL",
          `answered the username/password with version ${pending[0]}, not 1`,
        );
      }
      const status = pending[1];
      pending = pending.subarray(2);
      if (status !== 0x00) return fail("SJ_ERR_PROXY_AUTH_REQUIRED", "rejected the username/password");
      sendConnect();
    }
    if (step === "reply") {
      if (pending.length < 2) return;
      if (pending[0] !== VERSION) {
        return fail("SJ_ERR_PROXY_PROTOCOL", `answered CONNECT with SOCKS version ${pending[0]}, not 5`);
      }
      const reply = pending[1];
      if (reply !== 0x00) {
        const meaning = REPLIES[reply] ?? "unassigned reply code";
        return fail(
          "SJ_ERR_PROXY_TARGET_REFUSED",
          `could not connect to the target: ${meaning} (reply ${reply})`,
        );
      }
      const length = replyLength(pending);
      if (length === -1)
        return fail("SJ_ERR_PROXY_PROTOCOL", `answered with an unknown address type ${pending[3]}`);
      if (length === 0 || pending.length < length) return;
      done = true;
      const rest = pending.subarray(length);
      socket.removeListener("data", onData);
      socket.removeListener("close", onClose);
      socket.removeListener("error", onError);
      // As node:http does for an upgraded socket: bytes wait in the buffer until the next 'data' listener.
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
      if (rest.length > 0) socket.unshift(rest);
      onOpen(socket);
    }
  };

  return {
    abort: () => {
      done = true;
      socket.destroy();
    },
  };
}

/** ATYP and DST.ADDR for host (RFC 1928 §5), or null when a name is longer than 255 bytes. */
function destinationAddress(host: string): Buffer | null {
  const kind = net.isIP(host);
  if (kind === 4) return Buffer.from([ATYP_IPV4, ...host.split(".").map(Number)]);
  if (kind === 6) {
    return Buffer.concat([Buffer.from([ATYP_IPV6]), ipv6Bytes(host)]);
  }
  const name = Buffer.from(host, "utf8");
  if (name.length > 255) return null;
  return Buffer.concat([Buffer.from([ATYP_DOMAIN, name.length]), name]);
}

/** The 16 bytes of an IPv6 address (with :: expanded; an embedded IPv4 tail converted). */
function ipv6Bytes(address: string): Buffer {
  let text = address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === null || tail === "" ? [] : tail.split(":");
  const zeros = new Array(8 - headGroups.length - tailGroups.length).fill("0");
  const groups = tail === null ? headGroups : [...headGroups, ...zeros, ...tailGroups];
  const out = Buffer.alloc(16);
  for (let i = 0; i < groups.length; i++) out.writeUInt16BE(Number.parseInt(groups[i], 16), i * 2);
  return out;
}

/** The whole reply's length from its ATYP (0: not known yet, -1: an unknown type). */
function replyLength(reply: Buffer): number {
  if (reply.length < 4) return 0;
  const atyp = reply[3];
  if (atyp === ATYP_IPV4) return 4 + 4 + 2;
  if (atyp === ATYP_IPV6) return 4 + 16 + 2;
  if (atyp === ATYP_DOMAIN) return reply.length < 5 ? 0 : 4 + 1 + reply[4] + 2;
  return -1;
}
