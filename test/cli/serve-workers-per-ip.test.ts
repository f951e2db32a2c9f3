import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import WebSocket from "ws";
import { killAll, type Served, serve } from "./helpers.js";
import { type Client, open } from "./workers-helpers.js";

// `sockjet serve --workers 2 --max-connections-per-ip N`: the primary counts an address's connections across
// both workers (serve-address-count.ts), per endpoint; each worker alone would let it open N on each.

after(killAll);

/** The HTTP status of a handshake refused, or 101 when it opened (the socket is closed again). */
function status(served: Served, path: string, protocol?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${served.ws}${path}`, protocol === undefined ? [] : [protocol]);
    const timer = setTimeout(() => reject(new Error(`${path}: no answer in 10 s`)), 10_000);
    socket.on("unexpected-response", (_request, response) => {
      clearTimeout(timer);
      resolve(response.statusCode ?? 0);
      response.resume();
      socket.terminate();
    });
    socket.on("open", () => {
      clearTimeout(timer);
      resolve(101);
      socket.close();
    });
    socket.on("error", () => {});
  });
}

/** An echo connection, retried while the primary still counts one that has just closed (bounded). */
async function openWhenFree(served: Served): Promise<Client> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open(served, "/");
    } catch (error) {
      if (attempt >= 100 || !/429/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe("sockjet serve --workers: --max-connections-per-ip counts across the workers", () => {
  test("the limit holds for the address across both workers, per endpoint; a close or a dead worker frees slots", async () => {
    const served = await serve(["--workers", "2", "--max-connections-per-ip", "3"]);
    try {
      const clients: Client[] = [];
      for (let i = 0; i < 3; i++) clients.push(await open(served, "/"));
      // Dealt round-robin: the three are on both workers, so neither worker is at 3 by its own count.
      assert.deepEqual(new Set(clients.map((c) => c.slot)), new Set([1, 2]));
      for (let i = 0; i < 4; i++) assert.equal(await status(served, "/"), 429, `attempt ${i}`);
      // Another endpoint is counted apart, as each endpoint's server counts its own.
      assert.equal(await status(served, "/chat", "chat"), 101);

      // A close gives its slot back (the worker tells the primary once its socket has closed).
      clients[0].socket.close();
      await clients[0].closed;
      clients[0] = await openWhenFree(served);
      assert.equal(await status(served, "/"), 429);

      // A worker killed with its connections: the primary stops counting them.
      const victim = clients[1];
      const onVictim = clients.filter((c) => c.pid === victim.pid).length;
      process.kill(victim.pid, "SIGKILL");
      await Promise.all(clients.filter((c) => c.pid === victim.pid).map((c) => c.closed));
      await served.cli.waitFor(/worker \d \(pid \d+\) listening/);
      // Its slots are free again, and no more than those.
      for (let i = 0; i < onVictim; i++) clients.push(await openWhenFree(served));
      assert.equal(await status(served, "/"), 429);
      for (const client of clients) client.socket.close();
    } finally {
      served.cli.kill("SIGTERM");
      await served.cli.exit();
    }
  });
});
