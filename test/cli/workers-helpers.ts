import assert from "node:assert/strict";
import { once } from "node:events";
import WebSocket from "ws";
import type { Served } from "./helpers.js";

// Clients of `sockjet serve --workers 2` that know which worker took them (the X-Sockjet-Worker header of
// the 101), for test/cli/serve-workers*.test.ts.

export type ChatEvent = Record<string, unknown>;

export interface Client {
  socket: WebSocket;
  /** The worker's slot and pid, from the 101. */
  slot: number;
  pid: number;
  events: ChatEvent[];
  texts: string[];
  closed: Promise<{ code: number; reason: string }>;
}

/** Connections open() has made to each serve (the probes of openOn included). */
const opened = new WeakMap<Served, number>();

export async function open(served: Served, path: string, protocol?: string): Promise<Client> {
  opened.set(served, (opened.get(served) ?? 0) + 1);
  const socket = new WebSocket(`${served.ws}${path}`, protocol === undefined ? [] : [protocol]);
  let header = "";
  socket.on("upgrade", (response) => (header = String(response.headers["x-sockjet-worker"] ?? "")));
  const events: ChatEvent[] = [];
  const texts: string[] = [];
  socket.on("message", (data, isBinary) => {
    const text = isBinary ? "" : data.toString();
    texts.push(text);
    if (protocol === "chat") events.push(JSON.parse(text));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  socket.on("error", () => {});
  await Promise.race([
    once(socket, "open"),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${path} did not open`)), 10_000)),
  ]);
  const match = /^(\d+); pid=(\d+)$/.exec(header);
  assert.ok(match, `X-Sockjet-Worker: ${header}`);
  return { socket, slot: Number(match[1]), pid: Number(match[2]), events, texts, closed };
}

/**
 * A connection on worker `slot` (of 2). The primary hands connections round-robin, so an echo connection
 * that lands on the other worker is opened first and closed: the next one should be ours. A chat member
 * that lands wrong all the same would hold its name until its leave is through: it is waited for.
 */
export async function openOn(served: Served, slot: number, path: string, protocol?: string): Promise<Client> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const probe = await open(served, "/");
    probe.socket.close();
    await probe.closed;
    if (probe.slot === slot) continue;
    const client = await open(served, path, protocol);
    if (client.slot === slot) return client;
    client.socket.close();
    await client.closed;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`no connection landed on worker ${slot}`);
}

/**
 * Waits until a --workers serve's log shows every connection open() made to it opened, and all but `count`
 * closed: openOn()'s probes are closed on our side, and a worker counts one until its own socket has closed too
 * (its "close" line), so a signal sent sooner can find "closing 3" where 2 were meant (seen on loaded and quiet
 * CI runs alike). Both totals, not their difference: the workers' lines interleave, and "opens − closes" once
 * read right while a client's open line was still on its way and a probe's close line too.
 */
export async function untilOpenConnections(
  served: Served,
  stdout: () => string,
  count: number,
): Promise<void> {
  const total = opened.get(served) ?? 0;
  const lines = (pattern: RegExp) =>
    stdout()
      .split("\n")
      .filter((line) => pattern.test(line)).length;
  await until(
    () => lines(/\] {2}open {3}/) === total && lines(/\] {2}close {2}/) === total - count,
    `${total} open lines and ${total - count} close lines`,
  );
}

export async function until(condition: () => boolean, label: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const welcome = (client: Client) => client.events.find((e) => e.type === "welcome");
export const said = (client: Client) =>
  client.events.filter((e) => e.type === "message").map((e) => `${e.user}: ${e.text}`);

/** Far past what an open and an echo take here; a connection still waiting then is hung. */
const HUNG_MS = 10_000;

/** Opens, echoes, and says how it went: "echoed", "ended" (failed or closed before the echo) or "hung". */
export function attempt(served: Served, text: string): Promise<"echoed" | "ended" | "hung"> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`${served.ws}/`);
    const timer = setTimeout(() => {
      socket.terminate();
      resolve("hung");
    }, HUNG_MS);
    const settle = (outcome: "echoed" | "ended") => {
      clearTimeout(timer);
      resolve(outcome);
    };
    socket.on("open", () => socket.send(text));
    socket.on("message", (data) => {
      settle(String(data) === text ? "echoed" : "ended");
      socket.close();
    });
    socket.on("error", () => {});
    socket.on("close", () => settle("ended"));
  });
}
