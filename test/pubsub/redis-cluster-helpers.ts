// A real Redis Cluster for the sharded pub/sub tests: 3 masters and 3 replicas, each a redis-server on
// OS-chosen free ports (its client port and its cluster bus port), joined with `redis-cli --cluster create`,
// started and stopped by the tests; with what they need to look inside (which master owns a channel, its
// PUBSUB SHARDCHANNELS) and to break it (kill a master, wait for its replica to take over).

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { HOST, within } from "./helpers.js";
import { freePort, REDIS_BINARY } from "./redis-helpers.js";

const run = promisify(execFile);
const REDIS_CLI = "redis-cli";

/** One redis-server of the cluster. */
export interface ClusterNode {
  port: number;
  child: ChildProcess;
  log: string;
}

/** A master of the cluster as CLUSTER NODES lists it. */
export interface ClusterMaster {
  port: number;
  /** Slot ranges, e.g. [[0, 5460]]. */
  slots: [number, number][];
}

/** `redis-cli -p port args…`, its output trimmed; throws on a failed command. */
export async function cli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run(REDIS_CLI, ["-h", HOST, "-p", String(port), ...args], { timeout: 10_000 });
  return stdout.trim();
}

async function waitFor(check: () => Promise<boolean>, ms: number, label: string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${label}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export class RedisCluster {
  readonly nodes: ClusterNode[] = [];
  private readonly dir = mkdtempSync(path.join(tmpdir(), "sockjet-cluster-"));

  /** 3 masters with a replica each, `cluster_state:ok` on every node; the first node on `firstPort` if given. */
  static async start(firstPort?: number): Promise<RedisCluster> {
    const cluster = new RedisCluster();
    // A test process that dies (a timeout, a crash) must not leave six redis-servers behind.
    const onExit = () => {
      for (const node of cluster.nodes) node.child.kill("SIGKILL");
    };
    process.once("exit", onExit);
    cluster.onExit = onExit;
    try {
      for (let i = 0; i < 6; i++) await cluster.spawnNode(i === 0 ? firstPort : undefined);
      const addresses = cluster.nodes.map((node) => `${HOST}:${node.port}`);
      await run(
        REDIS_CLI,
        ["--cluster", "create", ...addresses, "--cluster-replicas", "1", "--cluster-yes"],
        {
          timeout: 30_000,
        },
      );
      await waitFor(
        async () => {
          for (const node of cluster.nodes) {
            const info = await cli(node.port, "CLUSTER", "INFO");
            if (!info.includes("cluster_state:ok") || !info.includes("cluster_known_nodes:6")) return false;
          }
          if ((await cluster.masters()).length !== 3) return false;
          // Every replica in sync with its master: one that is not would refuse to take over.
          for (const node of cluster.nodes) {
            const replication = await cli(node.port, "INFO", "replication");
            if (replication.includes("role:slave") && !replication.includes("master_link_status:up"))
              return false;
          }
          return true;
        },
        30_000,
        "the cluster to be ok on every node",
      );
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The node URLs, for `rootNodes`. */
  get urls(): string[] {
    return this.nodes.map((node) => `redis://${HOST}:${node.port}`);
  }

  private async spawnNode(chosenPort?: number): Promise<void> {
    const port = chosenPort ?? (await freePort());
    let busPort = await freePort();
    while (busPort === port) busPort = await freePort();
    const child = spawn(
      REDIS_BINARY,
      [
        "--port",
        String(port),
        "--cluster-port",
        String(busPort),
        "--bind",
        HOST,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        path.join(this.dir, `nodes-${port}.conf`),
        // A dead master is failed over within about a second (the default, 15 s, is for real networks).
        "--cluster-node-timeout",
        "1000",
        // The other masters keep serving their slots while one is failed: a master frozen past the node timeout
        // made every key CLUSTERDOWN until its failover ended, so the tests of "its topics, not the others'"
        // and the next test failed by timing (CI, twice in one run).
        "--cluster-require-full-coverage",
        "no",
        // Replicas sync at once (not after the default 5 s wait for more replicas): a replica that never synced
        // refuses to fail over.
        "--repl-diskless-sync-delay",
        "0",
        "--dir",
        this.dir,
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const node: ClusterNode = { port, child, log: "" };
    child.stdout?.on("data", (chunk) => (node.log += chunk));
    child.stderr?.on("data", (chunk) => (node.log += chunk));
    this.nodes.push(node);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited:\n${node.log}`);
        return (await cli(port, "PING")) === "PONG";
      },
      10_000,
      `redis-server on port ${port}`,
    );
  }

  /** The masters that own slots, as a live node sees them. */
  async masters(): Promise<ClusterMaster[]> {
    const lines = (await cli(this.livePort(), "CLUSTER", "NODES")).split("\n");
    const masters: ClusterMaster[] = [];
    for (const line of lines) {
      const fields = line.split(" ");
      const flags = fields[2] ?? "";
      if (!flags.split(",").includes("master") || flags.includes("fail")) continue;
      const slots = fields
        .slice(8)
        .filter((range) => /^\d+(-\d+)?$/.test(range))
        .map((range) => {
          const [from, to] = range.split("-").map(Number);
          return [from, to ?? from] as [number, number];
        });
      if (slots.length === 0) continue;
      masters.push({ port: Number(fields[1].split(":")[1].split("@")[0]), slots });
    }
    return masters;
  }

  /** The port of the master that owns the slot of `channel` (CLUSTER KEYSLOT). */
  async ownerOf(channel: string): Promise<number> {
    const slot = Number(await cli(this.livePort(), "CLUSTER", "KEYSLOT", channel));
    for (const master of await this.masters()) {
      if (master.slots.some(([from, to]) => slot >= from && slot <= to)) return master.port;
    }
    throw new Error(`no master owns slot ${slot}`);
  }

  /** The ports of the nodes that have not been killed. */
  livePorts(): number[] {
    return this.nodes
      .filter((node) => node.child.exitCode === null && node.child.signalCode === null)
      .map((node) => node.port);
  }

  /** A node that has not been killed. */
  private livePort(): number {
    const live = this.nodes.find((node) => node.child.exitCode === null && node.child.signalCode === null);
    if (live === undefined) throw new Error("no live node");
    return live.port;
  }

  /** The port of a live replica of the master on `port`. */
  async replicaOf(port: number): Promise<number> {
    const lines = (await cli(this.livePort(), "CLUSTER", "NODES")).split("\n").map((line) => line.split(" "));
    const master = lines.find((fields) => fields[1]?.startsWith(`${HOST}:${port}@`));
    const replica = lines.find(
      (fields) => fields[3] === master?.[0] && fields[2].includes("slave") && !fields[2].includes("fail"),
    );
    if (replica === undefined) throw new Error(`no replica of ${port}`);
    return Number(replica[1].split(":")[1].split("@")[0]);
  }

  /** Kills a node at once (a crash) and waits until it is gone. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    if (node === undefined || node.child.exitCode !== null || node.child.signalCode !== null) return;
    const exited = once(node.child, "exit");
    node.child.kill("SIGKILL");
    await within(exited, 10_000, "redis-server to exit");
  }

  /** Freezes a node (SIGSTOP), like a hung host: its connections stay open and nothing answers. */
  freeze(port: number): void {
    this.nodes.find((n) => n.port === port)?.child.kill("SIGSTOP");
  }

  /** Lets a frozen node go on (SIGCONT). */
  thaw(port: number): void {
    this.nodes.find((n) => n.port === port)?.child.kill("SIGCONT");
  }

  /** Lets a frozen node go on and waits until every live node says the cluster is ok (a failover may be under way). */
  async thawAndSettle(port: number, ms = 20_000): Promise<void> {
    this.thaw(port);
    await waitFor(
      async () => {
        for (const node of this.nodes) {
          if (node.child.exitCode !== null || node.child.signalCode !== null) continue;
          if (!(await cli(node.port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
        }
        return true;
      },
      ms,
      "the cluster to be ok after a thaw",
    );
  }

  /** Waits until a replica owns the slots `port` had and every live node says the cluster is ok. */
  async waitForFailover(port: number, ms = 20_000): Promise<void> {
    await waitFor(
      async () => {
        const masters = await this.masters();
        if (masters.length !== 3 || masters.some((m) => m.port === port)) return false;
        for (const node of this.nodes) {
          if (node.port === port || node.child.exitCode !== null || node.child.signalCode !== null) continue;
          if (!(await cli(node.port, "CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
        }
        return true;
      },
      ms,
      `a replica to take over from ${port}`,
    );
  }

  private onExit: () => void = () => {};

  async stop(): Promise<void> {
    process.off("exit", this.onExit);
    for (const node of this.nodes) this.thaw(node.port);
    await Promise.all(this.nodes.map((node) => this.kill(node.port)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
