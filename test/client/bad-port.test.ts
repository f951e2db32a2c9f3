import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HandshakeError, WebSocket } from "../../src/index.js";
import type { ErrorEvent } from "../../src/web/events.js";

// Fetch §2.9 "port blocking": ws:/wss: URLs are fetched as http(s):, so a request to a bad port is a network
// error before anything is connected — the WebSocket fails (error, then close 1006), its constructor does
// not throw (WPT websockets/Create-blocked-port.any.js). The list is Fetch's, as of 2024 (4190 and 6679 added).
const FETCH_BAD_PORTS = [
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104,
  109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515,
  526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993, 995, 1719, 1720, 1723, 2049,
  3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
];

function outcome(url: string): Promise<{ order: string[]; error: unknown; code: number }> {
  const ws = new WebSocket(url, [], { perMessageDeflate: false });
  const order: string[] = [];
  let error: unknown = null;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no close for ${url}`)), 5000);
    ws.onopen = () => order.push("open");
    ws.onerror = (event) => {
      order.push("error");
      error = (event as ErrorEvent).error;
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      order.push("close");
      resolve({ order, error, code: event.code });
    };
  });
}

describe("Fetch bad ports (§2.9)", () => {
  test("every port on Fetch's list fails with SJ_ERR_BAD_PORT, ws: and wss:, without connecting", async () => {
    for (const port of FETCH_BAD_PORTS) {
      for (const scheme of ["ws", "wss"]) {
        const { order, error, code } = await outcome(`${scheme}://127.0.0.1:${port}/`);
        assert.deepEqual(order, ["error", "close"], `${scheme}:${port}`);
        assert.equal(code, 1006);
        assert.ok(error instanceof HandshakeError, `${scheme}:${port}`);
        assert.equal((error as HandshakeError).code, "SJ_ERR_BAD_PORT", `${scheme}:${port}`);
      }
    }
  });

  test("ports next to them are fetched as usual (nothing listens on port 2: connection refused)", async () => {
    const { error } = await outcome("ws://127.0.0.1:2/");
    assert.equal((error as HandshakeError).code, "SJ_ERR_CONNECTION_REFUSED");
  });
});
