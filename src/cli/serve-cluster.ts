import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { ClusterResumeHost } from "../cluster/resume-host.js";
import { ClusterResumeStore } from "../cluster/resume-store.js";
import { ClusterPresence, PresenceHost } from "./chat-cluster.js";
import { RestartBudget } from "./restart-budget.js";
import { onSecondSignal, SECOND_SIGNAL_GRACE_MS } from "./second-signal.js";
import { AddressCountHost, ClusterAddressCount } from "./serve-address-count.js";
import { ConnectionDealer } from "./serve-handover.js";

// `sockjet serve --workers N`: N processes on one port with node:cluster. The primary listens and hands
// each connection to a worker (serve-handover.ts: none hangs when a worker dies as it is handed one); it
// serves no connection itself. It forks the workers (each runs the ordinary serve, which sees
// SOCKJET_SERVE_WORKER), prints the one banner once all of them are ready, restarts a worker that dies (at
// most RESTARTS_PER_MINUTE a minute, then it gives up and stops), and on SIGINT/SIGTERM tells every worker
// to close its connections with 1001.
// Without --redis the chat room spans the workers through the primary: the topic and its last lines through
// a ClusterResumeHost (the workers' ClusterResumeStore: one order, and a member resumes on any worker), the
// names through a PresenceHost (chat-cluster.ts). --max-connections-per-ip counts across the workers in an
// AddressCountHost (serve-address-count.ts), and so do the chat's members per address with --redis.

const WORKER_ENV = "SOCKJET_SERVE_WORKER";
/** Namespace of the chat's resume store on the primary's ClusterResumeHost. */
const CHAT_NAMESPACE = "serve-chat";
const STOP_TAG = "serve";
/** How long the workers get for their closing handshakes before they are killed. */
const STOP_TIMEOUT_MS = 15_000;

/** More workers than this per core are refused. */
const MAX_WORKERS_PER_CORE = 16;

/** --workers: a count, or auto (one per core this process may use). */
export function workersFlag(raw: string): number {
  if (raw === "auto") return availableParallelism();
  if (!/^\d+$/.test(raw)) throw new Error("expected a number of processes, or auto (one per core)");
  const count = Number(raw);
  // Far more processes than cores only share the same cores, each with its own memory (tens of MiB).
  const most = MAX_WORKERS_PER_CORE * availableParallelism();
  if (count < 1 || count > most)
    throw new Error(
      `expected 1 to ${most} processes (${MAX_WORKERS_PER_CORE} per core of this machine), or auto (one per core)`,
    );
  return count;
}

/** What a serve worker needs from the cluster; null in a serve that is not a worker. */
export interface ServeWorker {
  /** 1..N: the worker's place, kept by its restarts. */
  readonly slot: number;
  /**
   * The chat's resume store (without --redis): kept by the primary, it carries the room's lines to every
   * worker and lets a member resume on any of them.
   */
  chatResumeStore(): ClusterResumeStore;
  /** The chat's names across the workers (without --redis). */
  chatPresence(): ClusterPresence;
  /**
   * --max-connections-per-ip across the workers, per address and endpoint, and (with --redis) the chat's
   * members per address. One per worker.
   */
  addressCount(): ClusterAddressCount;
  /**
   * Calls `stop` when the primary says so, or 1 s after a SIGTERM to this worker (a SIGTERM to the whole
   * group reaches the primary too, whose word comes first). SIGINT (Ctrl-C reaches every
   * process of the terminal's group) is the primary's to handle. A primary that dies without a word takes
   * its workers with it: node:cluster's worker exits as soon as its IPC channel closes.
   */
  onStop(stop: (signal: NodeJS.Signals) => void): void;
}

export function serveWorker(): ServeWorker | null {
  const slot = Number(process.env[WORKER_ENV]);
  if (!cluster.isWorker || !Number.isInteger(slot) || slot < 1) return null;
  return {
    slot,
    chatResumeStore: () => new ClusterResumeStore({ namespace: CHAT_NAMESPACE }),
    chatPresence: () => new ClusterPresence(),
    addressCount: () => new ClusterAddressCount(),
    onStop(stop) {
      process.on("SIGINT", () => {});
      // A SIGTERM to the whole group (GNU timeout, a supervisor) reaches the primary too, which tells every
      // worker to stop: give it a moment, so that it is not restarting a worker that exits on its own. A
      // SIGTERM to this worker alone stops it after that moment.
      process.on("SIGTERM", () => {
        if (process.connected !== true) stop("SIGTERM");
        else setTimeout(() => stop("SIGTERM"), SECOND_SIGNAL_GRACE_MS);
      });
      process.on("message", (message: { sockjet?: string; op?: string; signal?: NodeJS.Signals }) => {
        if (message?.sockjet === STOP_TAG && message.op === "stop") stop(message.signal ?? "SIGTERM");
      });
    },
  };
}

export interface PrimaryOptions {
  workers: number;
  /** Where to listen (--port, --host). */
  port: number;
  host: string;
  /** The chat goes through Redis: no resume host or presence here. */
  redis: boolean;
  /** --resume-lines: the chat lines the primary keeps for members that resume (without --redis). */
  resumeLines: number;
  /** The banner's lines for the address listened on. */
  banner(bound: { address: string; port: number }): string;
  /** A log line (not written with --quiet). */
  log(line: string): void;
  /** Trouble, always written. */
  warn(line: string): void;
}

const RESTARTS_PER_MINUTE = 10;

/** Runs the primary until shutdown; the exit status. */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { workers, log, warn } = options;
  // Listening comes first: a port in use is one error, before any worker is started.
  const dealer = new ConnectionDealer((worker) => onReady(worker));
  const bound = await dealer.listen(options.port, options.host);
  // The chat's lines get their positions here and are kept here, for whichever worker a member resumes on.
  // Its session records are kept too; their window is each worker's resume option (maxDisconnectionMs).
  const resumeHost = options.redis
    ? null
    : new ClusterResumeHost({ maxMessagesPerTopic: options.resumeLines });
  const presence = options.redis
    ? null
    : new PresenceHost(cluster, (names, users) => {
        // The members of a dead worker left the room: the others hear it as from the room itself.
        const time = Date.now();
        const notices =
          names.length <= 10
            ? names.map((user, i) => ({ type: "leave", user, users: users + names.length - 1 - i, time }))
            : [{ type: "presence", joined: 0, left: names.length, users, time }];
        // Through the resume host, so that they get positions and reach members that resume later too.
        for (const notice of notices) resumeHost?.publish("chat", JSON.stringify(notice), CHAT_NAMESPACE);
      });

  // --max-connections-per-ip counts every worker's connections (serve-address-count.ts), and with --redis
  // the chat's members per address (without it, the PresenceHost counts them).
  const addressCount = new AddressCountHost(cluster);

  const slots = new Map<Worker, number>();
  const readySlots = new Set<number>();
  /** Workers that are ready: they take the "stop" message (a starting one is sent SIGTERM instead). */
  const serving = new WeakSet<Worker>();
  const restarts = new RestartBudget(RESTARTS_PER_MINUTE, 60_000);
  let started = false;
  let stopping = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const fork = (slot: number) => {
    const worker = cluster.fork({ [WORKER_ENV]: String(slot) });
    slots.set(worker, slot);
    dealer.add(worker);
    worker.on("disconnect", () => dealer.gone(worker));
    // A write to a worker that just died (on a channel closed under it: EPIPE) without a callback is
    // reported here; unhandled, it would crash the primary. Its 'exit' follows and restarts it.
    worker.on("error", (error: Error) =>
      warn(`worker ${slot} (pid ${worker.process.pid}): ${error.message}`),
    );
    return worker;
  };
  const stopAll = (signal: NodeJS.Signals, exitCode: number) => {
    let code = exitCode;
    if (stopping) return;
    stopping = true;
    dealer.close();
    const alive = [...slots.keys()];
    const timer = setTimeout(() => {
      warn(`workers still running after ${STOP_TIMEOUT_MS / 1000} s: killed`);
      for (const worker of slots.keys()) worker.process.kill("SIGKILL");
      // Their connections were cut, not closed: not a clean stop.
      code = 1;
    }, STOP_TIMEOUT_MS);
    timer.unref();
    for (const worker of alive) {
      if (serving.has(worker) && worker.isConnected())
        worker.send({ sockjet: STOP_TAG, op: "stop", signal }, undefined, () => {});
      else worker.process.kill("SIGTERM");
    }
    const done = () => {
      clearTimeout(timer);
      finish(code);
    };
    if (slots.size === 0) done();
    else cluster.on("exit", () => slots.size === 0 && done());
  };

  const onReady = (worker: Worker) => {
    const slot = slots.get(worker);
    if (slot === undefined) return;
    serving.add(worker);
    if (started) {
      log(`worker ${slot} (pid ${worker.process.pid}) listening`);
      return;
    }
    readySlots.add(slot);
    if (readySlots.size < workers) return;
    started = true;
    process.stdout.write(options.banner(bound));
  };
  cluster.on("exit", (worker, code, signal) => {
    const slot = slots.get(worker);
    if (slot === undefined) return;
    slots.delete(worker);
    dealer.gone(worker);
    if (stopping) return;
    const how = signal === null ? `exited with code ${code}` : `was killed by ${signal}`;
    if (!started) {
      // It printed why (an unusable port, an unreadable certificate…); the others would fail the same way.
      warn(`worker ${slot} ${how} before listening: stopping`);
      stopAll("SIGTERM", 1);
      return;
    }
    if (!restarts.take()) {
      warn(`worker ${slot} ${how}; ${RESTARTS_PER_MINUTE} restarts in the last minute: giving up, stopping`);
      stopAll("SIGTERM", 1);
      return;
    }
    warn(`worker ${slot} (pid ${worker.process.pid}) ${how}: restarting it`);
    fork(slot);
  });

  const onSignal = (signal: NodeJS.Signals) => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    // A second signal stops at once; the same signal delivered twice (GNU timeout: to us, then to our
    // group) does not.
    onSecondSignal((second) => {
      for (const worker of slots.keys()) worker.process.kill("SIGKILL");
      process.exit(second === "SIGINT" ? 130 : 143);
    });
    log(`${signal}: stopping ${slots.size} worker(s); each closes its connections with 1001`);
    stopAll(signal, 0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  for (let slot = 1; slot <= workers; slot++) fork(slot);
  const code = await finished;
  resumeHost?.close();
  presence?.close();
  addressCount.close();
  if (code === 0) log("stopped");
  return code;
}
