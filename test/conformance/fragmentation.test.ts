// Autobahn category 5 — RFC 6455 §5.4 fragmentation: a message spans a first frame (FIN=0), continuations
// and a final frame; control frames may come between fragments but are never fragmented themselves; a
// continuation needs a message in progress and a new message may not start inside one.

import { describe } from "node:test";
import { closePayload, OP } from "./peers.js";
import { bothRoles } from "./session.js";

describe("Autobahn 5 · RFC 6455 §5.4 fragmentation", () => {
  bothRoles("fails with 1002 on a fragmented Ping (FIN=0 control frame, §5.5)", async (s) => {
    await s.send({ opcode: OP.ping, payload: "fragment1", fin: false });
    await s.expectFailure(1002);
  });
  bothRoles("fails with 1002 on a Ping fragmented into Ping + continuation", async (s) => {
    await s.send({ opcode: OP.ping, payload: "fragment1", fin: false });
    await s.send({ opcode: OP.continuation, payload: "fragment2" });
    await s.expectFailure(1002);
  });
  bothRoles("fails with 1002 on a fragmented Pong", async (s) => {
    await s.send({ opcode: OP.pong, payload: "fragment1", fin: false });
    await s.expectFailure(1002);
  });
  bothRoles("fails with 1002 on a fragmented Close", async (s) => {
    await s.send({ opcode: OP.close, payload: closePayload(1000), fin: false });
    await s.expectFailure(1002);
  });
  bothRoles("echoes a text message in 2 fragments as one message", async (s) => {
    await s.send({ opcode: OP.text, payload: "fragment1", fin: false });
    await s.send({ opcode: OP.continuation, payload: "fragment2" });
    await s.expectEcho(OP.text, "fragment1fragment2");
    await s.closeNormally();
  });
  bothRoles("echoes a binary message in 2 fragments as one message", async (s) => {
    await s.send({ opcode: OP.binary, payload: Buffer.from([0xde, 0xad]), fin: false });
    await s.send({ opcode: OP.continuation, payload: Buffer.from([0xbe, 0xef]) });
    await s.expectEcho(OP.binary, Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    await s.closeNormally();
  });
  bothRoles("echoes a text message in 2 fragments with a Ping between them: Pong first", async (s) => {
    await s.send({ opcode: OP.text, payload: "fragment1", fin: false });
    await s.send({ opcode: OP.ping, payload: "" });
    await s.send({ opcode: OP.continuation, payload: "fragment2" });
    await s.expectPong("");
    await s.expectEcho(OP.text, "fragment1fragment2");
    await s.closeNormally();
  });
  bothRoles("echoes fragments + Ping written in one write, and frame per frame byte by byte", async (s) => {
    const wire = Buffer.concat([
      s.build({ opcode: OP.text, payload: "fragment1", fin: false }),
      s.build({ opcode: OP.ping, payload: "ping payload" }),
      s.build({ opcode: OP.continuation, payload: "fragment2" }),
    ]);
    await s.peer.write(wire);
    await s.expectPong("ping payload");
    await s.expectEcho(OP.text, "fragment1fragment2");
    await s.peer.writeBytewise(wire, { awaitFirst: wire.length });
    await s.expectPong("ping payload");
    await s.expectEcho(OP.text, "fragment1fragment2");
    await s.closeNormally();
  });
  bothRoles("echoes a text message with a Pong between the fragments", async (s) => {
    await s.send({ opcode: OP.text, payload: "fragment1", fin: false });
    await s.send({ opcode: OP.pong, payload: "unsolicited" });
    await s.send({ opcode: OP.continuation, payload: "fragment2" });
    await s.expectEcho(OP.text, "fragment1fragment2");
    await s.closeNormally();
  });
  for (const [name, fin] of [
    ["final", true],
    ["non-final", false],
  ] as const) {
    bothRoles(`fails with 1002 on a ${name} continuation frame with no message in progress`, async (s) => {
      await s.send({ opcode: OP.continuation, payload: "non-continuation payload", fin });
      await s.expectFailure(1002);
    });
    bothRoles(`fails with 1002 on a ${name} continuation right after a complete message`, async (s) => {
      await s.send({ opcode: OP.text, payload: "complete" });
      await s.expectEcho(OP.text, "complete");
      await s.send({ opcode: OP.continuation, payload: "orphan", fin });
      await s.expectFailure(1002);
    });
  }
  bothRoles(
    "fails with 1002 on continuation, text fragment, continuation (message started by a continuation)",
    async (s) => {
      await s.send({ opcode: OP.continuation, payload: "fragment1", fin: false });
      await s.send({ opcode: OP.text, payload: "fragment2", fin: false });
      await s.send({ opcode: OP.continuation, payload: "fragment3" });
      await s.expectFailure(1002);
    },
  );
  bothRoles("fails with 1002 on a new text message started inside a fragmented text message", async (s) => {
    await s.send({ opcode: OP.text, payload: "fragment1", fin: false });
    await s.send({ opcode: OP.text, payload: "fragment2" });
    await s.expectFailure(1002);
  });
  bothRoles("fails with 1002 on a binary frame inside a fragmented text message", async (s) => {
    await s.send({ opcode: OP.text, payload: "fragment1", fin: false });
    await s.send({ opcode: OP.binary, payload: Buffer.from([1]), fin: false });
    await s.expectFailure(1002);
  });
  bothRoles("fails with 1002 on a text frame inside a fragmented binary message after a Ping", async (s) => {
    await s.send({ opcode: OP.binary, payload: Buffer.from([1]), fin: false });
    await s.send({ opcode: OP.ping, payload: "p" });
    await s.expectPong("p");
    await s.send({ opcode: OP.text, payload: "x" });
    await s.expectFailure(1002);
  });
  bothRoles("echoes a text message in 100 one-byte fragments", async (s) => {
    const msg = "x".repeat(100);
    const frames = [];
    for (let i = 0; i < 100; i++)
      frames.push(s.build({ opcode: i === 0 ? OP.text : OP.continuation, payload: msg[i], fin: i === 99 }));
    await s.peer.write(Buffer.concat(frames));
    await s.expectEcho(OP.text, msg);
    await s.closeNormally();
  });
  bothRoles("echoes a text message whose first, middle and last fragments are empty", async (s) => {
    await s.send({ opcode: OP.text, payload: "", fin: false });
    await s.send({ opcode: OP.continuation, payload: "abc", fin: false });
    await s.send({ opcode: OP.continuation, payload: "", fin: false });
    await s.send({ opcode: OP.continuation, payload: "def", fin: false });
    await s.send({ opcode: OP.continuation, payload: "" });
    await s.expectEcho(OP.text, "abcdef");
    await s.closeNormally();
  });
  bothRoles("echoes an empty text message sent as 3 empty fragments", async (s) => {
    await s.send({ opcode: OP.text, payload: "", fin: false });
    await s.send({ opcode: OP.continuation, payload: "", fin: false });
    await s.send({ opcode: OP.continuation, payload: "" });
    await s.expectEcho(OP.text, "");
    await s.closeNormally();
  });
  bothRoles("echoes a binary message of 64 KiB in 64 fragments of 1 KiB with Pings between", async (s) => {
    const whole = Buffer.alloc(65536);
    for (let i = 0; i < whole.length; i++) whole[i] = i & 0xff;
    const frames = [];
    for (let i = 0; i < 64; i++) {
      frames.push(
        s.build({
          opcode: i === 0 ? OP.binary : OP.continuation,
          payload: whole.subarray(i * 1024, (i + 1) * 1024),
          fin: i === 63,
        }),
      );
      if (i % 16 === 0) frames.push(s.build({ opcode: OP.ping, payload: String(i) }));
    }
    await s.peer.write(Buffer.concat(frames));
    for (const i of [0, 16, 32, 48]) await s.expectPong(String(i));
    await s.expectEcho(OP.binary, whole);
    await s.closeNormally();
  });
  bothRoles(
    "answers a Close between fragments: the partial message is dropped, the Close echoed",
    async (s) => {
      await s.send({ opcode: OP.text, payload: "fragment1", fin: false });
      await s.send({ opcode: OP.close, payload: closePayload(1000) });
      await s.expectCloseEcho(1000);
      // No message event for the unfinished message.
      if (s.local.messages().length !== 0) throw new Error("a partial message was delivered");
    },
  );
  bothRoles("echoes two fragmented messages back to back, in order", async (s) => {
    await s.peer.write(
      Buffer.concat([
        s.build({ opcode: OP.text, payload: "a1", fin: false }),
        s.build({ opcode: OP.continuation, payload: "a2" }),
        s.build({ opcode: OP.binary, payload: Buffer.from([1]), fin: false }),
        s.build({ opcode: OP.continuation, payload: Buffer.from([2]) }),
      ]),
    );
    await s.expectEcho(OP.text, "a1a2");
    await s.expectEcho(OP.binary, Buffer.from([1, 2]));
    await s.closeNormally();
  });
});
