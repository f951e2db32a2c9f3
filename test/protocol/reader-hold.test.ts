import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Opcode } from "../../src/protocol/constants.js";
import { Protocol } from "../../src/protocol/protocol.js";
import { serverFrame } from "./helpers.js";

// Receive backpressure at the protocol (WebSocketStream, issue 16): a reader whose queue is full holds the
// protocol from inside onMessage; nothing more is delivered, however many frames the same chunk carries,
// until it releases; then the rest comes in order. Control frames wait in line too (a Close behind
// unread messages is not seen before them).

function client(onMessage: (protocol: Protocol, text: string) => void) {
  const events: string[] = [];
  const protocol: Protocol = new Protocol(
    { role: "client" },
    {
      write: () => {},
      onMessage: (data) => {
        events.push(data.toString());
        onMessage(protocol, data.toString());
      },
      onPing: () => events.push("ping"),
      onPong: () => events.push("pong"),
      onCloseFrame: (code) => events.push(`close ${code}`),
      onFailure: (error) => events.push(`failure ${error.code}`),
    },
  );
  return { protocol, events };
}

describe("Protocol.holdForReader: a full reader queue holds delivery", () => {
  it("client receives three messages, a ping and a Close in one chunk, holding after each message → one at a time, in order", () => {
    const { protocol, events } = client((p) => p.holdForReader());
    const chunk = Buffer.concat([
      serverFrame({ opcode: Opcode.Text, payload: "one" }),
      serverFrame({ opcode: Opcode.Text, payload: "two" }),
      serverFrame({ opcode: Opcode.Ping, payload: "" }),
      serverFrame({ opcode: Opcode.Text, payload: "three" }),
      serverFrame({ opcode: Opcode.Close, payload: Buffer.from([0x03, 0xe8]) }),
    ]);
    protocol.receive(chunk);
    assert.deepEqual(events, ["one"]);
    // Bytes that arrive while held wait behind the rest.
    protocol.receive(serverFrame({ opcode: Opcode.Text, payload: "late" }));
    assert.deepEqual(events, ["one"]);
    protocol.releaseForReader();
    assert.deepEqual(events, ["one", "two"]);
    protocol.releaseForReader();
    assert.deepEqual(events, ["one", "two", "ping", "three"]);
    protocol.releaseForReader();
    assert.deepEqual(events, ["one", "two", "ping", "three", "close 1000"]);
  });

  it("a message split across chunks is delivered whole after the release, not before", () => {
    let hold = true;
    const { protocol, events } = client((p) => {
      if (hold) p.holdForReader();
    });
    const second = serverFrame({ opcode: Opcode.Binary, payload: Buffer.alloc(1000, 0x41) });
    protocol.receive(
      Buffer.concat([serverFrame({ opcode: Opcode.Text, payload: "first" }), second.subarray(0, 10)]),
    );
    protocol.receive(second.subarray(10));
    assert.deepEqual(events, ["first"]);
    hold = false;
    protocol.releaseForReader();
    assert.equal(events.length, 2);
    assert.equal(events[1], "A".repeat(1000));
  });
});
