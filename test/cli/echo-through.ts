import assert from "node:assert/strict";
import WS from "ws";

// A client load of large binary messages for serve-gc.test.ts: `messages` echoes of `size` bytes over
// `connections` sockets, `inFlight` each at a time (npm ws as the client, so that only the server under test
// runs sockjet).

export interface EchoLoad {
  size: number;
  messages: number;
  connections: number;
  inFlight: number;
}

export const LARGE_ECHO: EchoLoad = { size: 64 * 1024, messages: 6400, connections: 8, inFlight: 4 };

export async function echoThrough(url: string, load: EchoLoad = LARGE_ECHO): Promise<void> {
  const payload = Buffer.alloc(load.size, 0x5a);
  let sent = 0;
  await Promise.all(
    Array.from(
      { length: load.connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const ws = new WS(url);
          let pending = 0;
          const sendOne = () => {
            if (sent >= load.messages) return false;
            sent++;
            pending++;
            ws.send(payload);
            return true;
          };
          ws.on("open", () => {
            for (let i = 0; i < load.inFlight; i++) sendOne();
          });
          ws.on("message", (data: Buffer) => {
            pending--;
            if (data.length !== load.size) reject(new Error(`echo of ${data.length} bytes`));
            if (!sendOne() && pending === 0) ws.close();
          });
          ws.on("close", () => resolve());
          ws.on("error", reject);
        }),
    ),
  );
  assert.equal(sent, load.messages);
}
