import type { Cluster, Worker } from "node:cluster";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { VerifyInfo, VerifyResult } from "../index.js";
import { addressKey } from "../server/connections-per-ip.js";
import { interpretVerdict } from "../server/verify-verdict.js";

// `sockjet serve --workers N`: --max-connections-per-ip counted across the workers. Each worker's
// WebSocketServer counts its own connections per address first (maxConnectionsPerIp, on the spot); a
// connection it lets through is then counted by the primary's AddressCountHost, which holds every worker's,
// or N workers would let one address open N times the limit. That costs one round trip over the cluster's
// IPC channel per handshake (the chat's joins already take one). The count is per endpoint, as each
// endpoint's server counts its own.
// A primary that does not answer within ADMIT_TIMEOUT_MS lets the connection in (the worker's own count still
// holds): a stalled primary must not refuse every client. A worker that dies takes its counts with it.

const TAG = "address-count";

/** How long a worker waits for the primary's answer before it lets the connection in. */
const ADMIT_TIMEOUT_MS = 2000;

type Request =
  | { sockjet: typeof TAG; op: "admit"; id: number; key: string; limit: number }
  | { sockjet: typeof TAG; op: "release"; id: number };
type Reply = { sockjet: typeof TAG; op: "reply"; id: number; admitted: boolean };

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

/** A worker's side: asks the primary whether an address may open one more connection. */
export class ClusterAddressCount {
  private readonly pending = new Map<number, (admitted: boolean) => void>();
  private nextId = 1;
  private readonly onIpc = (message: unknown) => {
    if (!isCountMessage(message) || message.op !== "reply") return;
    this.pending.get(message.id)?.((message as Reply).admitted === true);
  };
  /** No primary any more: whatever waits gets in (the worker exits with its channel anyway). */
  private readonly onDisconnect = () => {
    for (const settle of [...this.pending.values()]) settle(true);
  };

  constructor(
    private readonly limit: number,
    private readonly timeoutMs = ADMIT_TIMEOUT_MS,
  ) {
    process.on("message", this.onIpc);
    process.on("disconnect", this.onDisconnect);
  }

  /**
   * A verify hook that runs `verify` (if any) and then counts the connection under `endpoint` and its
   * address: a 429 past the limit across the workers.
   */
  verify(
    endpoint: string,
    verify?: (info: VerifyInfo) => VerifyResult | PromiseLike<VerifyResult>,
  ): (info: VerifyInfo) => Promise<VerifyResult> {
    return async (info) => {
      // The inner hook's answer as the server reads it; an accepting one is kept (it may carry the app's data).
      const result = verify === undefined ? true : await verify(info);
      if (!interpretVerdict(result).accept) return result;
      return (await this.admit(info.request, endpoint)) ? result : TOO_MANY;
    };
  }

  /** Whether the request's address may open one more connection at `endpoint`, counted until it closes. */
  admit(request: IncomingMessage, endpoint: string): Promise<boolean> {
    const address = request.socket?.remoteAddress;
    // An HTTP/2 WebSocket is a stream of a session that may carry others: its count ends with the stream.
    const transport: Duplex = (request as { stream?: Duplex }).stream ?? request.socket;
    // No address (not TCP), no primary, or a connection already gone (its 'close' may have been emitted).
    if (
      address === undefined ||
      transport.destroyed ||
      process.send === undefined ||
      process.connected !== true
    )
      return Promise.resolve(true);
    const id = this.nextId++;
    const send = (message: Request) => {
      if (process.connected === true) process.send?.(message, undefined, undefined, () => {});
    };
    // However the connection ends (refused further on, its handshake timed out, closed), its count ends
    // too; the primary ignores the release of a connection it did not count.
    const release = () => send({ sockjet: TAG, op: "release", id });
    transport.once("close", release);
    return new Promise((resolve) => {
      const settle = (admitted: boolean) => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (!admitted) transport.off("close", release);
        resolve(admitted);
      };
      // The primary may still answer after this; its count then ends with the connection, as above.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(true);
      }, this.timeoutMs);
      this.pending.set(id, settle);
      const request: Request = {
        sockjet: TAG,
        op: "admit",
        id,
        key: `${endpoint} ${addressKey(address)}`,
        limit: this.limit,
      };
      process.send?.(request, undefined, undefined, (error: Error | null) => {
        if (error !== null) this.pending.get(id)?.(true);
      });
    });
  }

  /** Stops listening to the channel. */
  close(): void {
    process.off("message", this.onIpc);
    process.off("disconnect", this.onDisconnect);
    this.onDisconnect();
  }
}

/** The primary's side: every worker's connections, per endpoint and address. */
export class AddressCountHost {
  private readonly counts = new Map<string, number>();
  /** Per worker, the connections it counted here: id → key. */
  private readonly held = new Map<Worker, Map<number, string>>();
  private readonly onMessage = (worker: Worker, message: unknown) => this.receive(worker, message);
  private readonly onExit = (worker: Worker) => this.dropWorker(worker);

  constructor(private readonly cluster: Cluster) {
    cluster.on("message", this.onMessage);
    cluster.on("exit", this.onExit);
  }

  /** Connections counted under `key` ("ENDPOINT ADDRESS-KEY") now. */
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
    if (request.op === "admit" && typeof request.key === "string" && typeof request.limit === "number") {
      const count = this.counts.get(request.key) ?? 0;
      const admitted = count < request.limit;
      if (admitted) {
        this.counts.set(request.key, count + 1);
        let mine = this.held.get(worker);
        if (mine === undefined) this.held.set(worker, (mine = new Map()));
        mine.set(request.id, request.key);
      }
      const reply: Reply = { sockjet: TAG, op: "reply", id: request.id, admitted };
      if (worker.isConnected()) worker.send(reply, undefined, () => {});
    } else if (request.op === "release") {
      const mine = this.held.get(worker);
      const key = mine?.get(request.id);
      if (mine === undefined || key === undefined) return;
      mine.delete(request.id);
      this.uncount(key);
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
    if (mine !== undefined) for (const key of mine.values()) this.uncount(key);
  }
}
