import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CloseEvent, MessageEvent, WebSocket } from "../../src/index.js";

// WebIDL §3.7.6 (operations) and §3.7.7 (attributes): a member called on a value that is not a WebSocket
// throws a TypeError, before its arguments are converted (WPT websockets/idlharness.any.js: "calling
// operation with this = null didn't throw TypeError", "setter must throw TypeError when called on an
// object that does not implement the interface").

/** An argument whose conversion throws something other than a TypeError: it must never be reached. */
const poisoned = {
  valueOf(): never {
    throw new RangeError("the argument was converted before the brand check");
  },
  toString(): never {
    throw new RangeError("the argument was converted before the brand check");
  },
};

const strangers: [string, unknown][] = [
  ["null", null],
  ["undefined", undefined],
  ["a plain object", {}],
  ["another EventTarget", new EventTarget()],
  ["an object made from WebSocket.prototype", Object.create(WebSocket.prototype)],
];

function members(prototype: object): [string, PropertyDescriptor][] {
  return Object.entries(Object.getOwnPropertyDescriptors(prototype)).filter(
    ([name]) => name !== "constructor",
  );
}

describe("WebIDL brand checks: WebSocket members on a value that is not a WebSocket", () => {
  test("WebSocket.prototype.close.call(null) throws TypeError before converting arguments", () => {
    assert.throws(() => WebSocket.prototype.close.call(null), TypeError);
    assert.throws(
      () => WebSocket.prototype.close.call(null, poisoned as never, poisoned as never),
      TypeError,
    );
    assert.throws(() => WebSocket.prototype.close.call({}, 1000, poisoned as never), TypeError);
  });

  test("the binaryType setter on a non-WebSocket throws TypeError, with a valid or an unknown value", () => {
    const setter = Object.getOwnPropertyDescriptor(WebSocket.prototype, "binaryType")!.set!;
    for (const [, value] of strangers) {
      assert.throws(() => setter.call(value, "arraybuffer"), TypeError);
      assert.throws(() => setter.call(value, "unknown"), TypeError);
      assert.throws(() => setter.call(value, poisoned), TypeError);
    }
  });

  // addEventListener/removeEventListener are EventTarget's (their overrides only watch for "message"), and
  // `constructor` is not a member: every other own property is a WebSocket member.
  for (const [name, descriptor] of members(WebSocket.prototype)) {
    if (name === "addEventListener" || name === "removeEventListener") continue;
    if (typeof descriptor.value === "number") continue; // the constants
    test(`${name} on null, undefined, a plain object, another EventTarget… throws TypeError`, () => {
      for (const [label, stranger] of strangers) {
        const message = `${name} on ${label}`;
        if (descriptor.get !== undefined)
          assert.throws(() => descriptor.get!.call(stranger), TypeError, message);
        if (descriptor.set !== undefined) {
          assert.throws(() => descriptor.set!.call(stranger, null), TypeError, message);
        }
        if (typeof descriptor.value === "function") {
          assert.throws(
            () => descriptor.value.call(stranger, poisoned, poisoned, poisoned),
            TypeError,
            message,
          );
        }
      }
    });
  }

  test("addEventListener and removeEventListener still work on other EventTargets (they are EventTarget's)", () => {
    const target = new EventTarget();
    let calls = 0;
    const listener = () => calls++;
    WebSocket.prototype.addEventListener.call(target, "message", listener);
    target.dispatchEvent(new Event("message"));
    WebSocket.prototype.removeEventListener.call(target, "message", listener);
    target.dispatchEvent(new Event("message"));
    assert.equal(calls, 1);
  });
});

describe("WebIDL brand checks: MessageEvent and CloseEvent members", () => {
  for (const [cls, event] of [
    [MessageEvent, new MessageEvent("message")],
    [CloseEvent, new CloseEvent("close")],
  ] as const) {
    for (const [name, descriptor] of members(cls.prototype)) {
      if (descriptor.get === undefined && typeof descriptor.value !== "function") continue;
      test(`${cls.name}.prototype.${name} on a plain Event throws TypeError`, () => {
        const stranger = new Event("x");
        if (descriptor.get !== undefined) {
          assert.throws(() => descriptor.get!.call(stranger), TypeError);
          descriptor.get.call(event); // and works on its own class
        } else {
          assert.throws(() => descriptor.value.call(stranger, "x"), TypeError);
          assert.throws(() => descriptor.value.call(null, poisoned), TypeError);
        }
      });
    }
  }
});

describe("HTML §9.2.1 MessageEvent.initMessageEvent()", () => {
  test("is an enumerable operation of the prototype, as WebIDL §3.7.6 makes operations", () => {
    const descriptor = Object.getOwnPropertyDescriptor(MessageEvent.prototype, "initMessageEvent");
    assert.equal(descriptor?.enumerable, true);
    assert.equal(descriptor?.writable, true);
    assert.equal(descriptor?.configurable, true);
  });

  test("initializes an event that is not being dispatched", () => {
    const event = new MessageEvent("x");
    event.initMessageEvent("message", true, true, "data", "ws://a", "7");
    assert.deepEqual(
      [
        event.type,
        event.bubbles,
        event.cancelable,
        event.data,
        event.origin,
        event.lastEventId,
        event.source,
      ],
      ["message", true, true, "data", "ws://a", "7", null],
    );
    assert.deepEqual(event.ports, []);
  });

  test("does nothing while the event is dispatched", () => {
    const target = new EventTarget();
    const event = new MessageEvent("message", { data: 1 });
    target.addEventListener("message", () => event.initMessageEvent("other", false, false, 2));
    target.dispatchEvent(event);
    assert.deepEqual([event.type, event.data], ["message", 1]);
  });

  test("converts its arguments as WebIDL says (ports must be MessagePorts)", () => {
    const event = new MessageEvent("x");
    assert.throws(() => (event.initMessageEvent as () => void)(), TypeError);
    assert.throws(() => event.initMessageEvent("m", false, false, null, "", "", null, [1]), TypeError);
  });
});
