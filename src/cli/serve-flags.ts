// The flags of `sockjet serve` (serve.ts): their specs, usage text and the parsers and checks of their values.
import { isIPv6 } from "node:net";
import type { RateLimitOptions } from "../index.js";
import { byteSize, flag, formatFlags, integer, nonNegative } from "./args.js";
import { workersFlag } from "./serve-cluster.js";
import { allowOriginFlag } from "./serve-guard.js";

export const specs = {
  port: flag.value("port to listen on; 0 picks a free port (default 8080)", {
    short: "p",
    valueName: "PORT",
    defaultValue: 8080,
    parse: integer(0, 65535),
  }),
  host: flag.value(
    "address to listen on (IPv6 as ::1 or [::1]); 0.0.0.0 for every interface (default localhost)",
    {
      valueName: "HOST",
      defaultValue: "localhost",
      parse: hostFlag,
    },
  ),
  protocol: flag.list("a subprotocol the echo endpoint accepts, in order of preference", {
    valueName: "NAME",
    parse: protocolName,
  }),
  deflate: flag.boolean("turn off permessage-deflate compression", { defaultValue: true }),
  "max-payload": flag.value("largest message accepted, e.g. 64k or 16m (default 1m)", {
    valueName: "SIZE",
    defaultValue: 1024 * 1024,
    parse: payloadLimit,
  }),
  "handshake-timeout": flag.value(
    "a request head (page or WebSocket handshake) must arrive within MS, else the socket is closed (default 10000)",
    { valueName: "MS", defaultValue: 10_000, parse: integer(100, 3_600_000) },
  ),
  "tls-cert": flag.value("certificate chain (PEM): serve https:// and wss://", {
    valueName: "FILE",
    defaultValue: undefined as string | undefined,
  }),
  "tls-key": flag.value("private key (PEM) for --tls-cert", {
    valueName: "FILE",
    defaultValue: undefined as string | undefined,
  }),
  // Per-connection rate limits, on by default for the chat (the library's are off): see rateLimitFrom().
  "rate-limit": flag.value(
    "frames per second each connection may send, pings included; 0 = no limit (default: 100 on /chat, none on /)",
    {
      valueName: "N",
      defaultValue: undefined as number | undefined,
      parse: nonNegative,
    },
  ),
  "rate-burst": flag.value("frames a connection may send at once (default twice --rate-limit)", {
    valueName: "N",
    defaultValue: undefined as number | undefined,
    parse: nonNegative,
  }),
  "byte-rate": flag.value(
    "payload bytes per second per connection, e.g. 256k; 0 = no limit (default: 1m on /chat, none on /)",
    {
      valueName: "SIZE",
      defaultValue: undefined as number | undefined,
      parse: byteSize,
    },
  ),
  "chat-rate": flag.value(
    "lines per second each /chat member may say (its address: 4 members' worth), in bursts of twice that; 0 = no limit (default 10)",
    { valueName: "N", defaultValue: 10, parse: nonNegative },
  ),
  "on-rate-limit": flag.value(
    "past a rate limit: pause (stop reading: TCP slows the peer; default) or close (1008)",
    {
      valueName: "pause|close",
      defaultValue: undefined as "pause" | "close" | undefined,
      parse: rateLimitAction,
    },
  ),
  quiet: flag.boolean("no log line per connection", { short: "q" }),
  "allow-origin": flag.list("also accept pages of this origin, e.g. https://app.example.com; * = any page", {
    valueName: "ORIGIN",
    parse: allowOriginFlag,
  }),
  "max-connections-per-ip": flag.value(
    "most connections per client address and endpoint (default 100; 0 = no limit)",
    { valueName: "N", defaultValue: 100, parse: integer(0, 1_000_000) },
  ),
  workers: flag.value(
    "processes serving the port (node:cluster), N or auto (one per core); the chat spans them (default 1)",
    { valueName: "N|auto", defaultValue: 1, parse: workersFlag },
  ),
  "resume-lines": flag.value("chat lines kept for members that reconnect and resume (default 2000)", {
    valueName: "N",
    defaultValue: 2000,
    parse: integer(1, 1_000_000),
  }),
  "resume-window": flag.value("how long after a drop a chat member can resume, in ms (default 120000)", {
    valueName: "MS",
    defaultValue: 120_000,
    parse: integer(1000, 86_400_000),
  }),
  redis: flag.value(
    "one /chat room, user count included, with every serve using this Redis (needs the redis package); " +
      "a Redis Cluster is found from any node, or give several of its nodes: URL,URL,…",
    { valueName: "URL", defaultValue: undefined as string[] | undefined, parse: redisUrls, secret: true },
  ),
};

export const usage = `Usage: sockjet serve [options]

Serves, on one port:
  /       an echo endpoint: every message comes back as it was sent (text as text, binary as binary),
          and a close comes back with the same code and reason
  /chat   a chat room: JSON messages to everyone, join/leave notices, subprotocol "chat"; with
          --redis, one room for every serve process using that Redis
  GET /   a demo page for the browser that uses both

Options:
${formatFlags(specs)}

Examples:
  sockjet serve                               then open http://localhost:8080/
  sockjet serve --port 0 --host 0.0.0.0       any free port, every interface
  sockjet serve --tls-cert cert.pem --tls-key key.pem
  sockjet serve -p 8081 --redis redis://localhost:6379
  sockjet serve -p 8082 --redis redis://localhost:6379   the same chat room on both ports
  sockjet serve --redis redis://10.0.0.1:7000,redis://10.0.0.2:7000   on a Redis Cluster
  sockjet serve --allow-origin https://app.example.com   also pages of that origin
  sockjet serve --workers auto                one process per core, one chat room

Only pages of the server's own origin may open a WebSocket (a page on another site would otherwise use
its visitor's browser to join the chat), and only a Host that names this machine is served, whatever the
address (DNS rebinding): loopback names and addresses, its interfaces' addresses, --host, its host name.`;

/**
 * --host: a name or an address; an IPv6 address also as a URL writes it, `[::1]` (it was "cannot resolve
 * --host [::1]", a newcomer's review: listen() takes it without brackets).
 */
function hostFlag(raw: string): string {
  const inner = /^\[(.*)\]$/.exec(raw)?.[1];
  if (inner === undefined) return raw;
  if (isIPv6(inner)) return inner;
  throw new Error("expected a host name or an address; an IPv6 address as ::1 or [::1]");
}

/** --max-payload: 0 would refuse every non-empty message (each closed with 1009), so at least 1 byte. */
function payloadLimit(raw: string): number {
  const bytes = byteSize(raw);
  if (bytes < 1) throw new Error("the limit must be at least 1 byte, like 64k or 16m");
  return bytes;
}

/** redis:// or rediss:// URLs, comma-separated: one Redis, or nodes of one Redis Cluster. */
function redisUrls(raw: string): string[] {
  return raw.split(",").map((url) => redisUrl(url.trim()));
}

/** A redis:// or rediss:// URL. */
function redisUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error("expected a URL like redis://localhost:6379");
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:")
    throw new Error("expected a redis:// or rediss:// URL");
  return raw;
}

/** The URL without its credentials, for logs. */
function displayRedisUrl(raw: string): string {
  const url = new URL(raw);
  url.username = "";
  url.password = "";
  return url.toString();
}

export function displayRedisUrls(urls: string[]): string {
  return urls.map(displayRedisUrl).join(",");
}

function rateLimitAction(raw: string): "pause" | "close" {
  if (raw !== "pause" && raw !== "close") throw new Error("expected pause or close");
  return raw;
}

/**
 * The rate limits of one endpoint (the library has none by default, as ws). The chat multiplies every
 * message by its members, so it is limited by default (100 frames/s, bursts of 200, 1 MiB/s; "pause" slows a
 * faster peer instead of cutting it off, and a person or the demo page never comes near it). The echo answers
 * each message once, to its sender only, and is where conformance suites (Autobahn: 4 MiB messages in 65,536
 * fragments) and `sockjet bench` go, so it is limited only when a rate flag is given: any of them (even
 * --rate-burst or --on-rate-limit alone) gives it the chat's limits, with the flags applied to both.
 */
export function rateLimitFrom(
  flags: {
    "rate-limit": number | undefined;
    "rate-burst": number | undefined;
    "byte-rate": number | undefined;
    "max-payload": number;
    "on-rate-limit": "pause" | "close" | undefined;
  },
  limitedByDefault: boolean,
): RateLimitOptions | null {
  const rateFlagGiven =
    flags["rate-limit"] !== undefined ||
    flags["rate-burst"] !== undefined ||
    flags["byte-rate"] !== undefined ||
    flags["on-rate-limit"] !== undefined;
  const limited = limitedByDefault || rateFlagGiven;
  const frames = flags["rate-limit"] ?? (limited ? 100 : 0);
  const bytes = flags["byte-rate"] ?? (limited ? 1024 * 1024 : 0);
  if (frames === 0 && bytes === 0) return null;
  const limit: RateLimitOptions = { onExceeded: flags["on-rate-limit"] ?? "pause" };
  if (frames > 0) {
    limit.framesPerSecond = frames;
    limit.frameBurst = Math.max(1, flags["rate-burst"] ?? 2 * frames);
  }
  if (bytes > 0) {
    limit.bytesPerSecond = bytes;
    // A burst holds at least one message of the largest size accepted.
    limit.byteBurst = Math.max(bytes, flags["max-payload"]);
  }
  return limit;
}

function protocolName(raw: string): string {
  // RFC 6455 §4.1: a subprotocol is an RFC 7230 token.
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(raw)) throw new Error("a subprotocol name is a token");
  return raw;
}
