import type { Cluster, Worker } from "node:cluster";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { VerifyInfo, VerifyResult } from "../index.js";
import { addressKey } from "../server/connections-per-ip.js";
import { interpretVerdict } from "../server/verify-verdict.js";
import type { ChatAddressLevel, SharedMemberCount } from "./chat-address.js";

// `sockjet serve --workers N`: --max-connections-per-ip counted across the workers. Each worker's
// WebSocketServer counts its own connections per address first (maxConnectionsPerIp, on the spot); a
// connection it lets through is then counted by the primary's AddressCountHost, which holds every worker's,
// or N workers would let one address open N times the limit. That costs one round trip over the cluster's
// IPC channel per handshake (the chat's joins already take one). The count is per endpoint, as each
// endpoint's server counts its own.
// With --redis, the chat's members per address are counted here too (chatMembers(), under keys of their
// own): the Redis presence counts no addresses, so each worker alone would let one address hold N times the
// limit the refusal names. Across separate serve processes on one Redis the limit stays per process.
// A primary that does not answer within ADMIT_TIMEOUT_MS lets the connection in (the worker's own count still
// holds): a stalled primary must not refuse every client. A worker that dies takes its counts with it.

const TAG = "address-count";

/** How long a worker waits for the primary's answer before it lets the connection in. */
const ADMIT_TIMEOUT_MS = 2000;

/** At most `limit` holders under `key` across the workers. */
interface Count {
  key: string;
  limit: number;
}

type Request =
  | { sockjet: typeof TAG; op: "admit"; id: number; counts: Count[] }
  | { sockjet: typeof TAG; op: "release"; id: number };
/** `full`: the index of the count that has its limit already (nothing was counted), or -1. */
type Reply = { sockjet: typeof TAG; op: "reply"; id: number; full: number };

/** Chat members are counted under keys no endpoint (a path, "/…") has. */
const CHAT_MEMBERS = "chat-members";

function isCountMessage(message: unknown): message is { sockjet: string; op: string; id: number } {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { sockjet?: unknown }).sockjet === TAG &&
    typeof (message as { id?: unknown }).id === "number"
  );
}

/** RFC 6585 §4: this client made too many requests (as the library's own per-address refusal). */
const TOO_MANY: VerifyResult = {
  status: 429,
  message: "Too many connections from this address",
  headers: { "Retry-After": "5" },
};

/**
 * A worker's side: asks the primary whether an address may open one more connection, or hold one more chat
 * member. One per worker: the primary knows a worker's counts by their ids.
 */
export class ClusterAddressCount {
  private readonly pending = new Map<number, (full: number) => void>();
  private nextId = 1;
  private readonly onIpc = (message: unknown) => {
    if (!isCountMessage(message) || message.op !== "reply") return;
    const full = (message as Reply).full;
    this.pending.get(message.id)?.(typeof full === "number" ? full : -1);
  };
  /** No primary any more: whatever waits gets in (the worker exits with its channel anyway). */
  private readonly onDisconnect = () => {
    for (const settle of [...this.pending.values()]) settle(-1);
  };

  constructor(private readonly timeoutMs = ADMIT_TIMEOUT_MS) {
    process.on("message", this.onIpc);
    process.on("disconnect", this.onDisconnect);
  }

  /**
   * A verify hook that runs `verify` (if any) and then counts the connection under `endpoint` and its
   * address: a 429 past `limit` across the workers.
   */
  verify(
    endpoint: string,
    limit: number,
    verify?: (info: VerifyInfo) => VerifyResult | PromiseLike<VerifyResult>,
  ): (info: VerifyInfo) => Promise<VerifyResult> {
    return async (info) => {
      // The inner hook's answer as the server reads it; an accepting one is kept (it may carry the app's data).
      const result = verify === undefined ? true : await verify(info);
      if (!interpretVerdict(result).accept) return result;
      return (await this.admit(info.request, endpoint, limit)) ? result : TOO_MANY;
    };
  }

  /** Whether the request's address may open one more connection at `endpoint`, counted until it closes. */
  async admit(request: IncomingMessage, endpoint: string, limit: number): Promise<boolean> {
    const address = request.socket?.remoteAddress;
    // An HTTP/2 WebSocket is a stream of a session that may carry others: its count ends with the stream.
    const transport: Duplex = (request as { stream?: Duplex }).stream ?? request.socket;
    // No address (not TCP), or a connection already gone (its 'close' may have been emitted).
    if (address === undefined || transport.destroyed) return true;
    const asked = this.ask([{ key: `${endpoint} ${addressKey(address)}`, limit }]);
    // However the connection ends (refused further on, its handshake timed out, closed), its count ends
    // too; the primary ignores the release of a connection it did not count.
    transport.once("close", asked.release);
    const admitted = (await asked.full) === -1;
    if (!admitted) transport.off("close", asked.release);
    return admitted;
  }

  /**
   * The chat's members per address across the workers (serve --workers --redis): `perAddress` members per
   * address level at share 1, as the room counts them itself (chat-address.ts).
   */
  chatMembers(): SharedMemberCount {
    return {
      add: (levels: ChatAddressLevel[], perAddress: number) => {
        const counts = levels.map((level) => ({
          key: `${CHAT_MEMBERS} ${level.key}`,
          limit: perAddress * level.share,
        }));
        const asked = this.ask(counts);
        return { full: asked.full.then((index) => levels[index] ?? null), release: asked.release };
      },
    };
  }

  /**
   * Counts one more holder under every one of `counts` (all or none) until `release()`. `full` resolves
   * with the index of a count that has its limit already (nothing counted), or -1: counted, or no answer
   * (no primary, or none within timeoutMs), which lets the holder in. Call `release` however the holder
   * ends, refused or not: the primary ignores the release of what it did not count.
   */
  private ask(counts: Count[]): { full: Promise<number>; release: () => void } {
    if (process.send === undefined || process.connected !== true)
      return { full: Promise.resolve(-1), release: () => {} };
    const id = this.nextId++;
    const release = () => {
      const message: Request = { sockjet: TAG, op: "release", id };
      if (process.connected === true) process.send?.(message, undefined, undefined, () => {});
    };
    const full = new Promise<number>((resolve) => {
      const settle = (index: number) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(index);
      };
      // The primary may still answer after this; its count then ends with the release, as above.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(-1);
      }, this.timeoutMs);
      this.pending.set(id, settle);
      const request: Request = { sockjet: TAG, op: "admit", id, counts };
      process.send?.(request, undefined, undefined, (error: Error | null) => {
        if (error !== null) this.pending.get(id)?.(-1);
      });
    });
    return { full, release };
  }

  /** Stops listening to the channel. */
  close(): void {
    process.off("message", this.onIpc);
    process.off("disconnect", this.onDisconnect);
    this.onDisconnect();
  }
}

/** The primary's side: every worker's connections per endpoint and address, and chat members per address. */
export class AddressCountHost {
  private readonly counts = new Map<string, number>();
  /** Per worker, what it counted here: id → keys. */
  private readonly held = new Map<Worker, Map<number, string[]>>();
  private readonly onMessage = (worker: Worker, message: unknown) => this.receive(worker, message);
  private readonly onExit = (worker: Worker) => this.dropWorker(worker);

  constructor(private readonly cluster: Cluster) {
    cluster.on("message", this.onMessage);
    cluster.on("exit", this.onExit);
  }

  /** Holders counted under `key` ("ENDPOINT ADDRESS-KEY", "chat-members ADDRESS-KEY") now. */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  close(): void {
    this.cluster.off("message", this.onMessage);
    this.cluster.off("exit", this.onExit);
  }

  private receive(worker: Worker, message: unknown): void {
    if (!isCountMessage(message)) return;
    const request = message as Request;
    if (request.op === "admit" && isCounts(request.counts)) {
      // All or none: a member refused at its /48 must not take a slot of its /64.
      const full = request.counts.findIndex(({ key, limit }) => (this.counts.get(key) ?? 0) >= limit);
      if (full === -1) {
        const keys = request.counts.map(({ key }) => key);
        for (const key of keys) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
        let mine = this.held.get(worker);
        if (mine === undefined) this.held.set(worker, (mine = new Map()));
        mine.set(request.id, keys);
      }
      const reply: Reply = { sockjet: TAG, op: "reply", id: request.id, full };
      if (worker.isConnected()) worker.send(reply, undefined, () => {});
    } else if (request.op === "release") {
      const mine = this.held.get(worker);
      const keys = mine?.get(request.id);
      if (mine === undefined || keys === undefined) return;
      mine.delete(request.id);
      for (const key of keys) this.uncount(key);
    }
  }

  private uncount(key: string): void {
    const left = (this.counts.get(key) ?? 1) - 1;
    if (left <= 0) this.counts.delete(key);
    else this.counts.set(key, left);
  }

  private dropWorker(worker: Worker): void {
    const mine = this.held.get(worker);
    this.held.delete(worker);
    if (mine !== undefined) for (const keys of mine.values()) for (const key of keys) this.uncount(key);
  }
}

function isCounts(counts: unknown): counts is Count[] {
  return (
    Array.isArray(counts) &&
    counts.every((count) => typeof count?.key === "string" && typeof count?.limit === "number")
  );
}
