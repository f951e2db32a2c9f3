import type { Cluster, Worker } from "node:cluster";
import { type ChatAddressLevel, MembersPerAddress } from "./chat-address.js";
import { nameKey, SEQUENTIAL_SUFFIXES, uniqueName } from "./chat-names.js";
import type { AddressLimit, ChatPresence, PresenceJoin } from "./chat-presence.js";

// Who is in the chat room of `sockjet serve --workers N` without --redis: the primary owns the names, so
// two members on two workers never get the same name and every welcome and notice counts the whole room.
// Each worker's ClusterPresence asks the primary's PresenceHost over the cluster's IPC channel (a round trip
// of well under a millisecond on one machine). When a worker dies, the host drops its members' names and
// tells the caller, who announces their leave to the other workers (serve-cluster.ts). The primary also counts
// members per address across the workers, or each worker would allow the limit again (a worker's own count,
// chat-room.ts, is a first check). With --redis, the Redis presence (chat-redis.ts) is used instead, as for
// separate serve processes, which count addresses each for itself; the primary's AddressCountHost then
// counts the workers' members per address (serve-address-count.ts).

const TAG = "presence";

type Request =
  | { sockjet: typeof TAG; op: "join"; id: number; requested: string; limit?: AddressLimit }
  | { sockjet: typeof TAG; op: "leave"; id: number; names: string[] };
type Reply = {
  sockjet: typeof TAG;
  op: "reply";
  id: number;
  name?: string;
  users: number;
  /** The address level that has its limit of members already (the join is refused). */
  full?: ChatAddressLevel;
};

function isPresenceMessage(message: unknown): message is { sockjet: string; op: string; id: number } {
  return (
    typeof message === "object" &&
    message !== null &&
    (message as { sockjet?: unknown }).sockjet === TAG &&
    typeof (message as { id?: unknown }).id === "number"
  );
}

/** A worker's view of the room's names: every call is answered by the primary's PresenceHost. */
export class ClusterPresence implements ChatPresence {
  private readonly pending = new Map<number, (reply: Reply | null) => void>();
  private nextId = 1;
  /** The last count the primary gave, for a leave it cannot answer. */
  private users = 0;
  private readonly onIpc = (message: unknown) => {
    if (!isPresenceMessage(message) || message.op !== "reply") return;
    const reply = message as Reply;
    this.pending.get(reply.id)?.(reply);
    this.pending.delete(reply.id);
  };
  private readonly onDisconnect = () => {
    for (const settle of this.pending.values()) settle(null);
    this.pending.clear();
  };

  constructor(private readonly timeoutMs = 5000) {
    process.on("message", this.onIpc);
    process.on("disconnect", this.onDisconnect);
  }

  async join(requested: string, limit?: AddressLimit): Promise<PresenceJoin> {
    const reply = await this.ask({ sockjet: TAG, op: "join", id: this.nextId++, requested, limit });
    if (reply?.full !== undefined) return { full: reply.full };
    if (reply?.name === undefined)
      return { refused: "the chat cannot take new members now; try again later" };
    return { name: reply.name, users: reply.users };
  }

  async leave(name: string): Promise<number> {
    return this.leaveAll([name]);
  }

  async leaveAll(names: readonly string[]): Promise<number> {
    const reply = await this.ask({ sockjet: TAG, op: "leave", id: this.nextId++, names: [...names] });
    return reply?.users ?? Math.max(0, this.users - names.length);
  }

  /** Stops listening to the channel. */
  close(): void {
    process.off("message", this.onIpc);
    process.off("disconnect", this.onDisconnect);
    this.onDisconnect();
  }

  /** A leave whose answer nobody waits for. */
  private giveBack(name: string): void {
    if (process.send === undefined || process.connected !== true) return;
    const request: Request = { sockjet: TAG, op: "leave", id: this.nextId++, names: [name] };
    process.send(request, undefined, undefined, () => {});
  }

  /** The primary's reply, or null when it cannot answer (gone, or not within timeoutMs). */
  private ask(request: Request): Promise<Reply | null> {
    if (process.send === undefined || process.connected !== true) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        // The primary may answer still (it was stalled, not gone): a name it gives then has no member
        // here, so it is given back at once, or it would stay taken and counted for good.
        this.pending.set(request.id, (late) => {
          if (late?.name !== undefined) this.giveBack(late.name);
        });
        resolve(null);
      }, this.timeoutMs);
      this.pending.set(request.id, (reply) => {
        clearTimeout(timer);
        if (reply !== null) this.users = reply.users;
        resolve(reply);
      });
      process.send?.(request, undefined, undefined, (error: Error | null) => {
        if (error === null) return;
        this.pending.get(request.id)?.(null);
        this.pending.delete(request.id);
      });
    });
  }
}

/** The primary's register of the room's names, by worker. */
export class PresenceHost {
  /** nameKey → the name, the worker whose member has it, and the address levels it is counted under. */
  private readonly names = new Map<string, { name: string; worker: Worker; levels: ChatAddressLevel[] }>();
  private readonly perAddress = new MembersPerAddress();
  private guests = 0;
  /** The counter of numbered duplicates (uniqueName). */
  private suffixes = SEQUENTIAL_SUFFIXES;
  private readonly onMessage = (worker: Worker, message: unknown) => this.receive(worker, message);
  private readonly onExit = (worker: Worker) => this.dropWorker(worker);

  /** `gone`: the names a dead worker's members had, and the count after they left. */
  constructor(
    private readonly cluster: Cluster,
    private readonly gone: (names: string[], users: number) => void,
  ) {
    cluster.on("message", this.onMessage);
    cluster.on("exit", this.onExit);
  }

  get size(): number {
    return this.names.size;
  }

  close(): void {
    this.cluster.off("message", this.onMessage);
    this.cluster.off("exit", this.onExit);
  }

  private receive(worker: Worker, message: unknown): void {
    if (!isPresenceMessage(message)) return;
    const request = message as Request;
    let reply: Reply;
    if (request.op === "join" && typeof request.requested === "string") {
      const levels = Array.isArray(request.limit?.levels) ? request.limit.levels : [];
      const full = this.perAddress.add(levels, request.limit?.perAddress ?? Number.POSITIVE_INFINITY);
      if (full !== null) {
        reply = { sockjet: TAG, op: "reply", id: request.id, users: this.names.size, full };
      } else {
        const name = this.join(request.requested, worker, levels);
        reply = { sockjet: TAG, op: "reply", id: request.id, name, users: this.names.size };
      }
    } else if (request.op === "leave" && Array.isArray(request.names)) {
      for (const name of request.names) {
        const key = nameKey(String(name));
        const entry = this.names.get(key);
        // Only the worker that holds a name can give it up.
        if (entry?.worker !== worker) continue;
        this.names.delete(key);
        this.perAddress.remove(entry.levels);
      }
      reply = { sockjet: TAG, op: "reply", id: request.id, users: this.names.size };
    } else {
      return;
    }
    if (worker.isConnected()) worker.send(reply, undefined, () => {});
  }

  /** As LocalPresence.join (chat-room.ts), for the whole cluster. */
  private join(requested: string, worker: Worker, levels: ChatAddressLevel[]): string {
    let name = requested;
    if (name === "")
      do name = `guest-${++this.guests}`;
      while (this.names.has(nameKey(name)));
    name = uniqueName(name, this.names, () => ++this.suffixes);
    this.names.set(nameKey(name), { name, worker, levels });
    return name;
  }

  private dropWorker(worker: Worker): void {
    const names: string[] = [];
    for (const [key, entry] of this.names) {
      if (entry.worker !== worker) continue;
      names.push(entry.name);
      this.names.delete(key);
      this.perAddress.remove(entry.levels);
    }
    if (names.length > 0) this.gone(names, this.names.size);
  }
}
