// Autobahn category 7 — RFC 6455 §5.5.1 and §7 close handling: a Close is echoed with its code (and our
// reason echo), nothing is read or answered after it, the server closes TCP first (§7.1.1); codes that may
// not appear on the wire (§7.4) and malformed bodies fail the connection with 1002, a reason that is not
// UTF-8 with 1007. Our own close() starts the handshake and the peer's echo finishes it.

import assert from "node:assert/strict";
import { describe } from "node:test";
import { closePayload, OP } from "./peers.js";
import { bothRoles } from "./session.js";

const VALID_CODES = [
  1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999,
];
const INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];

describe("Autobahn 7.1 · RFC 6455 §5.5.1 basic close behaviour", () => {
  bothRoles("echoes a Close without body with a Close without body, and closes with 1005", async (s) => {
    await s.send({ opcode: OP.close });
    await s.expectCloseEcho(1005);
  });
  bothRoles("sends nothing for a text message that follows the peer's Close", async (s) => {
    await s.send({ opcode: OP.close, payload: closePayload(1000) });
    await s.send({ opcode: OP.text, payload: "after close" });
    await s.expectCloseEcho(1000);
    assert.equal(s.local.messages().length, 0, "no message event after the Close");
  });
  bothRoles("answers only the first of two Close frames", async (s) => {
    await s.peer.write(
      Buffer.concat([
        s.build({ opcode: OP.close, payload: closePayload(1000) }),
        s.build({ opcode: OP.close, payload: closePayload(1001) }),
      ]),
    );
    await s.expectCloseEcho(1000);
  });
  bothRoles("ignores a fragment and a Ping after the Close, in the same write", async (s) => {
    await s.peer.write(
      Buffer.concat([
        s.build({ opcode: OP.close, payload: closePayload(1000) }),
        s.build({ opcode: OP.text, payload: "fragment", fin: false }),
        s.build({ opcode: OP.ping, payload: "ping" }),
      ]),
    );
    await s.expectCloseEcho(1000);
  });
  bothRoles("delivers a message, then echoes the Close that follows it in the same write", async (s) => {
    await s.peer.write(
      Buffer.concat([
        s.build({ opcode: OP.text, payload: "last words" }),
        s.build({ opcode: OP.close, payload: closePayload(1000) }),
      ]),
    );
    await s.expectEcho(OP.text, "last words");
    await s.expectCloseEcho(1000);
  });
  bothRoles(
    "echoes a 256 KiB message in full before echoing the Close that follows it (7.1.6)",
    async (s) => {
      const big = "BAsd7&jh23".repeat(26215).slice(0, 262144);
      await s.peer.write(
        Buffer.concat([
          s.build({ opcode: OP.text, payload: big }),
          s.build({ opcode: OP.close, payload: closePayload(1000) }),
          s.build({ opcode: OP.ping, payload: "after close" }),
        ]),
      );
      await s.expectEcho(OP.text, big);
      await s.expectCloseEcho(1000);
    },
  );
  bothRoles("ignores bytes that are not even frames after the Close", async (s) => {
    await s.send({ opcode: OP.close, payload: closePayload(1000) });
    await s.peer.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    await s.expectCloseEcho(1000);
  });
  bothRoles("echoes a Close sent byte by byte", async (s) => {
    await s.peer.writeBytewise(s.build({ opcode: OP.close, payload: closePayload(1000, "bytes") }), {
      awaitFirst: 64,
    });
    await s.expectCloseEcho(1000, "bytes");
  });
});

describe("Autobahn 7.3 · RFC 6455 §5.5.1 Close payloads", () => {
  bothRoles("fails with 1002 on a Close with a 1-byte payload", async (s) => {
    await s.send({ opcode: OP.close, payload: Buffer.from([0x03]) });
    await s.expectFailure(1002);
  });
  bothRoles("echoes a Close 1000 with a reason", async (s) => {
    await s.send({ opcode: OP.close, payload: closePayload(1000, "Hello World!") });
    await s.expectCloseEcho(1000, "Hello World!");
  });
  bothRoles("echoes a Close with a 123-byte reason (the most a control frame holds)", async (s) => {
    const reason = "*".repeat(123);
    await s.send({ opcode: OP.close, payload: closePayload(1000, reason) });
    await s.expectCloseEcho(1000, reason);
  });
  bothRoles("echoes a Close with a 123-byte multi-byte UTF-8 reason", async (s) => {
    const reason = `${"€".repeat(41)}`; // 123 bytes
    assert.equal(Buffer.byteLength(reason), 123);
    await s.send({ opcode: OP.close, payload: closePayload(1000, reason) });
    await s.expectCloseEcho(1000, reason);
  });
  bothRoles("fails with 1002 on a Close with a 124-byte reason (126-byte control frame)", async (s) => {
    await s.send({ opcode: OP.close, payload: closePayload(1000, "*".repeat(124)) });
    await s.expectFailure(1002);
  });
  for (const [name, bytes] of [
    ["a lone surrogate", Buffer.from("edb0 80".replace(" ", ""), "hex")],
    ["an overlong form", Buffer.from("c0af", "hex")],
    ["a truncated sequence", Buffer.from("68656c6ce282", "hex")],
    ["'κόσμε' + ED A0 80 + 'edited'", Buffer.from("cebae1bdb9cf83cebcceb5eda080656469746564", "hex")],
  ] as const) {
    bothRoles(`fails with 1007 on a Close whose reason contains ${name}`, async (s) => {
      await s.send({ opcode: OP.close, payload: closePayload(1000, bytes) });
      await s.expectFailure(1007);
    });
  }
});

describe("Autobahn 7.7 · RFC 6455 §7.4 valid close codes are echoed", () => {
  for (const code of VALID_CODES) {
    bothRoles(`echoes Close ${code}`, async (s) => {
      await s.send({ opcode: OP.close, payload: closePayload(code) });
      await s.expectCloseEcho(code);
    });
  }
  bothRoles("echoes Close 4999 with a reason", async (s) => {
    await s.send({ opcode: OP.close, payload: closePayload(4999, "private use") });
    await s.expectCloseEcho(4999, "private use");
  });
});

describe("Autobahn 7.9 · RFC 6455 §7.4 invalid close codes fail the connection with 1002", () => {
  for (const code of INVALID_CODES) {
    bothRoles(`fails with 1002 on Close ${code}`, async (s) => {
      await s.send({ opcode: OP.close, payload: closePayload(code) });
      await s.expectFailure(1002);
    });
  }
  bothRoles("fails with 1002 on Close 1005 with a reason", async (s) => {
    await s.send({ opcode: OP.close, payload: closePayload(1005, "no status") });
    await s.expectFailure(1002);
  });
});

describe("RFC 6455 §7.1.2–§7.1.3 our side starts the closing handshake", () => {
  bothRoles(
    "sends Close 1000 with its reason on close(1000, reason) and closes cleanly on the echo",
    async (s) => {
      s.local.ws.close(1000, "bye now");
      const f = await s.peer.readFrame();
      assert.equal(f.opcode, OP.close);
      assert.equal(f.closeCode, 1000);
      assert.equal(f.closeReason?.toString(), "bye now");
      await s.send({ opcode: OP.close, payload: closePayload(1000, "bye now") });
      if (s.side === "server") {
        // §7.1.1: the server closes the TCP connection once the handshake is done.
        await s.peer.waitEnd();
      } else {
        // The client waits for the server to close TCP.
        assert.ok(await s.peer.quietFor(30), "our client sends nothing after its Close");
        s.peer.end();
        await s.peer.waitEnd();
      }
      const event = await s.local.close();
      assert.deepEqual([event.code, event.reason, event.wasClean], [1000, "bye now", true]);
    },
  );
  bothRoles("answers a Ping that comes after its own Close, until the peer's Close (§5.5.2)", async (s) => {
    s.local.ws.close(1000);
    assert.equal((await s.peer.readFrame()).closeCode, 1000);
    await s.send({ opcode: OP.ping, payload: "are you there?" });
    await s.expectPong("are you there?");
    await s.send({ opcode: OP.close, payload: closePayload(1000) });
    if (s.side === "client") s.peer.end();
    await s.peer.waitEnd();
    const event = await s.local.close();
    assert.deepEqual([event.code, event.wasClean], [1000, true]);
  });
  bothRoles("sends a Close without body on close() and reports 1005", async (s) => {
    s.local.ws.close();
    const f = await s.peer.readFrame();
    assert.equal(f.opcode, OP.close);
    assert.equal(f.payload.length, 0);
    await s.send({ opcode: OP.close });
    if (s.side === "client") s.peer.end();
    await s.peer.waitEnd();
    const event = await s.local.close();
    assert.deepEqual([event.code, event.wasClean], [1005, true]);
  });
  bothRoles("discards messages that arrive after its own Close was sent, until the echo", async (s) => {
    s.local.ws.close(4000);
    const f = await s.peer.readFrame();
    assert.equal(f.closeCode, 4000);
    await s.send({ opcode: OP.text, payload: "late message" });
    await s.send({ opcode: OP.close, payload: closePayload(4000) });
    if (s.side === "client") s.peer.end();
    await s.peer.waitEnd();
    const event = await s.local.close();
    assert.equal(event.code, 4000);
    // WHATWG: a message received while CLOSING is not delivered (readyState is not OPEN).
    assert.equal(s.local.messages().length, 0);
    assert.equal(s.peer.pending, 0, "no echo, no Pong, nothing after our Close");
  });
  bothRoles("reports the peer's code when the peer answers its Close with another valid code", async (s) => {
    // §7.1.5: the connection close code is the one "contained in the first Close control frame received".
    s.local.ws.close(4000, "ours");
    assert.equal((await s.peer.readFrame()).closeCode, 4000);
    await s.send({ opcode: OP.close, payload: closePayload(4001, "theirs") });
    if (s.side === "client") s.peer.end();
    await s.peer.waitEnd();
    const event = await s.local.close();
    assert.deepEqual([event.code, event.reason, event.wasClean], [4001, "theirs", true]);
  });
  bothRoles(
    "fails the connection (1006, error) when the peer answers its Close with an invalid code",
    async (s) => {
      s.local.ws.close(1000);
      assert.equal((await s.peer.readFrame()).closeCode, 1000);
      await s.send({ opcode: OP.close, payload: closePayload(1005) });
      // Our Close is already out: no second Close, just the TCP close.
      await s.peer.waitEnd();
      assert.equal(s.peer.pending, 0, "no second Close frame");
      const event = await s.local.close();
      assert.deepEqual([event.code, event.wasClean], [1006, false]);
      assert.deepEqual(s.local.types().slice(-2), ["error", "close"]);
    },
  );
  bothRoles("fails the connection (1006, error) on invalid UTF-8 arriving after its own Close", async (s) => {
    s.local.ws.close(1000);
    assert.equal((await s.peer.readFrame()).closeCode, 1000);
    await s.send({ opcode: OP.text, payload: Buffer.from([0xc0, 0xaf]) });
    await s.peer.waitEnd();
    assert.equal(s.peer.pending, 0, "no second Close frame");
    const event = await s.local.close();
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
  });
  bothRoles("closes with 1006 and an error when the peer drops TCP without a Close", async (s) => {
    await s.send({ opcode: OP.text, payload: "hello" });
    await s.expectEcho(OP.text, "hello");
    s.peer.end();
    const event = await s.local.close();
    assert.deepEqual([event.code, event.wasClean], [1006, false]);
    assert.deepEqual(s.local.types().slice(-2), ["error", "close"]);
  });
});

describe("RFC 6455 §7.1.1 the server closes TCP first", () => {
  bothRoles(
    "closes the TCP connection itself right after echoing the Close (server side)",
    async (s) => {
      await s.send({ opcode: OP.close, payload: closePayload(1000) });
      const f = await s.peer.readFrame();
      assert.equal(f.closeCode, 1000);
      // The raw client has not ended its side: the FIN must come from the server on its own.
      await s.peer.waitEnd(2000);
      assert.equal(s.peer.socket.writableEnded || s.peer.socket.destroyed, true);
      const event = await s.local.close();
      assert.equal(event.wasClean, true);
    },
    { sides: ["server"] },
  );
  bothRoles(
    "waits for the server to close TCP after the closing handshake, then reports a clean close (client side)",
    async (s) => {
      await s.send({ opcode: OP.close, payload: closePayload(1001, "going") });
      const f = await s.peer.readFrame();
      assert.equal(f.closeCode, 1001);
      // §7.1.1: the client SHOULD wait for the server to close the connection.
      assert.ok(await s.peer.quietFor(50), "the client does not close TCP first");
      assert.ok(!s.peer.ended);
      s.peer.end();
      const event = await s.local.close();
      assert.deepEqual([event.code, event.reason, event.wasClean], [1001, "going", true]);
    },
    { sides: ["client"] },
  );
  bothRoles(
    "destroys the TCP connection after closeTimeoutMs when the server never closes it (client side)",
    async (s) => {
      await s.send({ opcode: OP.close, payload: closePayload(1000) });
      await s.peer.readFrame();
      const started = Date.now();
      const event = await s.local.close(3000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 150 && elapsed < 2000, `closed after ${elapsed} ms with closeTimeoutMs 200`);
      assert.equal(event.code, 1000);
    },
    { sides: ["client"], client: { closeTimeoutMs: 200 } },
  );
  bothRoles(
    "destroys the TCP connection after closeTimeoutMs when the peer never answers its Close (server side)",
    async (s) => {
      s.local.ws.close(1000);
      await s.peer.readFrame();
      // Our raw client neither echoes nor closes: the server gives up after closeTimeoutMs.
      const started = Date.now();
      await s.peer.waitEnd(3000);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 150 && elapsed < 2000, `closed after ${elapsed} ms with closeTimeoutMs 200`);
      const event = await s.local.close();
      assert.deepEqual([event.code, event.wasClean], [1006, false]);
    },
    { sides: ["server"], server: { closeTimeoutMs: 200 } },
  );
});
