import assert from "node:assert/strict";
import type { WritableStreamDefaultWriter } from "node:stream/web";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { WebSocketError, WebSocketStream } from "../../src/index.js";
import { selfSignedCertificate } from "../support/certificate.js";
import { rejectionOf, within, wptServers } from "./stream-helpers.js";

// Ports of the WPT websockets/stream/tentative/*.any.js tests (the WebSocketStream draft, whatwg/websockets
// PR #48, as Chromium ships it) against our server. Each test keeps its WPT name; the file it comes from is
// the describe() name, with the WPT's variant: ?default (ws:) and ?wss (TLS, a self-signed certificate the
// client is given as its CA). Those that cannot pass here, and why, are listed in the README's stream
// section.

const WAIT = 5000;

function isWebSocketError(error: unknown): error is WebSocketError {
  return (error as object)?.constructor === WebSocketError;
}

const tlsCertificate = selfSignedCertificate();

// WPT's /common/gc.js: a full collection, then a turn of the event loop.
setFlagsFromString("--expose-gc");
const collect = runInNewContext("gc") as () => void;
async function garbageCollect(): Promise<void> {
  collect();
  await new Promise((resolve) => setImmediate(resolve));
}

for (const variant of ["default", "wss"] as const) {
  const certificate = variant === "wss" ? tlsCertificate : null;
  if (variant === "wss" && certificate === null) continue;
  /** WebSocketStream, given the test certificate as its CA in the ?wss variant. */
  class Stream extends WebSocketStream {
    constructor(...args: ConstructorParameters<typeof WebSocketStream>) {
      const options = args[1];
      if (
        certificate !== null &&
        (options === undefined || (typeof options === "object" && options !== null))
      ) {
        args[1] = { ca: certificate.cert, ...options };
      }
      super(...args);
    }
  }

  describe(`WPT websockets/stream/tentative/constructor.any.js?${variant}`, () => {
    it("constructing with no URL should throw", () => {
      // @ts-expect-error: the URL is required
      assert.throws(() => new WebSocketStream(), TypeError);
    });

    it("constructing with an invalid URL should throw", () => {
      for (const url of ["invalid:", "//", "ws://localhost:8080/#fragment", "ftp://localhost/"]) {
        assert.throws(() => new Stream(url), { name: "SyntaxError" }, url);
      }
    });

    it("constructing with invalid options should throw", () => {
      // @ts-expect-error: options must be a dictionary
      assert.throws(() => new Stream("ws://127.0.0.1:1/", true), TypeError);
    });

    it("protocols should be required to be a list", () => {
      // @ts-expect-error: protocols is a sequence, a string is not one
      assert.throws(() => new Stream("ws://127.0.0.1:1/", { protocols: "hi" }), TypeError);
    });

    it("(sockjet) a signal that is not an AbortSignal, invalid or repeated protocols throw", () => {
      // @ts-expect-error: signal must be an AbortSignal
      assert.throws(() => new Stream("ws://127.0.0.1:1/", { signal: {} }), TypeError);
      assert.throws(() => new Stream("ws://127.0.0.1:1/", { protocols: ["a b"] }), { name: "SyntaxError" });
      assert.throws(() => new Stream("ws://127.0.0.1:1/", { protocols: ["echo", "eCho"] }), {
        name: "SyntaxError",
      });
    });

    it("constructing with a valid URL should work", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      await within(wss.opened, WAIT, "opened");
      assert.equal(wss.url, echo);
      wss.close();
      await wss.closed;
    });

    it("setting a protocol in the constructor should work", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/protocol_array`, { protocols: ["alpha", "beta"] });
      const { readable, protocol } = await within(wss.opened, WAIT, "opened");
      assert.equal(protocol, "alpha");
      const { value } = await within(readable.getReader().read(), WAIT, "the message");
      assert.equal(value, "alpha");
      wss.close();
      await wss.closed;
    });

    it("connection failure should reject the promises", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/404`);
      const [opened, closed] = await within(
        Promise.all([rejectionOf(wss.opened), rejectionOf(wss.closed)]),
        WAIT,
        "rejections",
      );
      assert.ok(isWebSocketError(opened), "opened rejects with a WebSocketError");
      assert.ok(isWebSocketError(closed), "closed rejects with a WebSocketError");
      // As Chromium and undici: `opened` gets a new error without a close code, `closed` its own with 1006.
      assert.notEqual(opened, closed);
      assert.equal((opened as { closeCode: unknown }).closeCode, null);
      assert.equal((closed as { closeCode: unknown }).closeCode, 1006);
    });

    it("wss.opened should resolve to the right types", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      const { readable, writable, protocol, extensions } = await within(wss.opened, WAIT, "opened");
      // The brand checks of the globals: these are the streams the platform's code accepts.
      globalThis.ReadableStream.prototype.getReader.call(readable).releaseLock();
      globalThis.WritableStream.prototype.getWriter.call(writable).releaseLock();
      assert.equal(typeof protocol, "string");
      assert.equal(typeof extensions, "string");
      assert.equal(wss.url, `${echo}`);
      wss.close();
      await wss.closed;
    });
  });

  describe(`WPT websockets/stream/tentative/abort.any.js?${variant}`, () => {
    it("abort before constructing should prevent connection", async (t) => {
      const servers = await wptServers(t, certificate);
      const controller = new AbortController();
      controller.abort();
      const wss = new Stream(servers.echo, { signal: controller.signal });
      const [opened, closed] = await Promise.all([rejectionOf(wss.opened), rejectionOf(wss.closed)]);
      assert.equal((opened as Error).name, "AbortError");
      assert.equal((closed as Error).name, "AbortError");
      // (The WPT asks a stash on the server; ours counts upgrade requests.)
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(servers.upgradeRequests(), 0, "no connection was made");
    });

    it("abort during handshake should work", async (t) => {
      const { base } = await wptServers(t, certificate);
      const controller = new AbortController();
      const wss = new Stream(`${base}/handshake_sleep_2`, { signal: controller.signal });
      // Give the connection a chance to start.
      await new Promise((resolve) => setTimeout(resolve, 0));
      controller.abort();
      const [opened, closed] = await within(
        Promise.all([rejectionOf(wss.opened), rejectionOf(wss.closed)]),
        WAIT,
        "rejections",
      );
      assert.equal((opened as Error).name, "AbortError");
      assert.equal((closed as Error).name, "AbortError");
    });

    it("abort after connect should do nothing", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const controller = new AbortController();
      const wss = new Stream(echo, { signal: controller.signal });
      const { readable, writable } = await within(wss.opened, WAIT, "opened");
      controller.abort();
      const writer = writable.getWriter();
      await writer.write("connected");
      const { value } = await within(readable.getReader().read(), WAIT, "echo");
      assert.equal(value, "connected");
      wss.close();
      await wss.closed;
    });

    it("(sockjet) the abort reason is passed through", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const controller = new AbortController();
      const reason = new Error("my reason");
      const wss = new Stream(echo, { signal: controller.signal });
      controller.abort(reason);
      assert.equal(await within(rejectionOf(wss.opened), WAIT, "opened"), reason);
      assert.equal(await within(rejectionOf(wss.closed), WAIT, "closed"), reason);
    });
  });

  describe(`WPT websockets/stream/tentative/close.any.js?${variant}`, () => {
    it("close code should be sent to server and reflected back", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      await within(wss.opened, WAIT, "opened");
      wss.close({ closeCode: 3456, reason: "pizza" });
      assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 3456, reason: "pizza" });
    });

    for (const [name, info] of [
      ["no close argument should send empty Close frame", undefined],
      ["unspecified close code should send empty Close frame", {}],
      ["unspecified close code with empty reason should send empty Close frame", { reason: "" }],
    ] as const) {
      it(name, async (t) => {
        const { echo } = await wptServers(t, certificate);
        const wss = new Stream(echo);
        await within(wss.opened, WAIT, "opened");
        wss.close(info);
        assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 1005, reason: "" });
      });
    }

    it("unspecified close code with non-empty reason should set code to 1000", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      await within(wss.opened, WAIT, "opened");
      wss.close({ reason: "non-empty" });
      assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 1000, reason: "non-empty" });
    });

    it("close(true) should throw a TypeError", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      await within(wss.opened, WAIT, "opened");
      // @ts-expect-error: not a dictionary
      assert.throws(() => wss.close(true), TypeError);
      wss.close();
      await wss.closed;
    });

    it("close() with an overlong reason should throw", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      await within(wss.opened, WAIT, "opened");
      assert.throws(() => wss.close({ reason: ".".repeat(124) }), { name: "SyntaxError" });
      wss.close();
      await wss.closed;
    });

    it("close during handshake should work", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      wss.close();
      const [opened, closed] = await within(
        Promise.all([rejectionOf(wss.opened), rejectionOf(wss.closed)]),
        WAIT,
        "rejections",
      );
      assert.ok(isWebSocketError(opened));
      assert.ok(isWebSocketError(closed));
    });

    for (const invalidCode of [999, 1001, 2999, 5000]) {
      it(`close() with invalid code ${invalidCode} should throw`, async (t) => {
        const { echo } = await wptServers(t, certificate);
        const wss = new Stream(echo);
        await within(wss.opened, WAIT, "opened");
        assert.throws(() => wss.close({ closeCode: invalidCode }), { name: "InvalidAccessError" });
        wss.close();
        await wss.closed;
      });
    }

    it("closing the writable should result in a clean close", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      const { writable } = await within(wss.opened, WAIT, "opened");
      writable.getWriter().close();
      assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 1005, reason: "" });
    });

    it("writer close() promise should not resolve until handshake completes", async (t) => {
      const { delayedPassiveClose } = await wptServers(t, certificate);
      const wss = new Stream(delayedPassiveClose);
      const { writable } = await within(wss.opened, WAIT, "opened");
      const start = performance.now();
      await within(writable.getWriter().close(), WAIT, "writer.close()");
      const elapsed = performance.now() - start;
      assert.ok(elapsed >= 1000 - 100, `one second should have elapsed (${elapsed} ms)`);
    });

    it("incomplete closing handshake should be considered unclean close", async (t) => {
      const { passiveCloseAbort } = await wptServers(t, certificate);
      const wss = new Stream(passiveCloseAbort);
      await within(wss.opened, WAIT, "opened");
      wss.close({ closeCode: 4000, reason: "because" });
      const error = await within(rejectionOf(wss.closed), WAIT, "closed");
      assert.ok(isWebSocketError(error));
      assert.equal(error.closeCode, 1006);
    });

    for (const [method, voweling, side] of [
      ["abort", "aborting", "writable"],
      ["cancel", "canceling", "readable"],
    ] as const) {
      const run = async (t: import("node:test").TestContext, reason: unknown) => {
        const { echo } = await wptServers(t, certificate);
        const wss = new Stream(echo);
        const info = await within(wss.opened, WAIT, "opened");
        if (side === "writable") info.writable.abort(reason);
        else info.readable.cancel(reason);
        void method;
        return within(wss.closed, WAIT, "closed");
      };

      it(`${voweling} the ${side} should result in a clean close`, async (t) => {
        assert.deepEqual(await run(t, undefined), { closeCode: 1005, reason: "" });
      });

      it(`${voweling} the ${side} with attributes not wrapped in a WebSocketError should be ignored`, async (t) => {
        assert.deepEqual(await run(t, { closeCode: 3333, reason: "obsolete" }), {
          closeCode: 1005,
          reason: "",
        });
      });

      it(`${voweling} the ${side} with a code should send that code`, async (t) => {
        assert.deepEqual(await run(t, new WebSocketError("", { closeCode: 3333 })), {
          closeCode: 3333,
          reason: "",
        });
      });

      it(`${voweling} the ${side} with a code and reason should use them`, async (t) => {
        assert.deepEqual(await run(t, new WebSocketError("", { closeCode: 3456, reason: "set" })), {
          closeCode: 3456,
          reason: "set",
        });
      });

      it(`${voweling} the ${side} with a reason but no code should default the close code`, async (t) => {
        assert.deepEqual(await run(t, new WebSocketError("", { reason: "specified" })), {
          closeCode: 1000,
          reason: "specified",
        });
      });

      it(`${voweling} the ${side} with a DOMException not set code or reason`, async (t) => {
        const domException = Object.assign(new DOMException("yes", "DataCloneError"), {
          closeCode: 1000,
          reason: "should be ignored",
        });
        assert.deepEqual(await run(t, domException), { closeCode: 1005, reason: "" });
      });
    }
  });

  describe(`WPT websockets/stream/tentative/read.any.js?${variant}`, () => {
    it("read type for binary messages is Uint8Array", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      const { readable, writable } = await within(wss.opened, WAIT, "opened");
      writable.getWriter().write(new Uint8Array(16));
      const { value, done } = await within(readable.getReader().read(), WAIT, "read");
      assert.equal(done, false);
      assert.equal((value as object).constructor, Uint8Array);
      assert.equal((value as Uint8Array).byteLength, 16);
      wss.close();
      await wss.closed;
    });

    it("(sockjet) read type for text messages is string", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      const { readable, writable } = await within(wss.opened, WAIT, "opened");
      writable.getWriter().write("héllo");
      const { value } = await within(readable.getReader().read(), WAIT, "read");
      assert.equal(value, "héllo");
      wss.close();
      await wss.closed;
    });
  });

  describe(`WPT websockets/stream/tentative/write.any.js?${variant}`, () => {
    it("writing a value that cannot be stringified should cause a rejection", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      const { writable } = await within(wss.opened, WAIT, "opened");
      const cannotStringify = {
        toString() {
          return this;
        },
      };
      // @ts-expect-error: not a chunk type
      await assert.rejects(writable.getWriter().write(cannotStringify), TypeError);
      wss.close();
      await wss.closed.catch(() => {});
    });

    it("writing a resizable ArrayBuffer should be rejected", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      const { writable } = await within(wss.opened, WAIT, "opened");
      const buffer = new ArrayBuffer(1024, { maxByteLength: 65536 });
      await assert.rejects(writable.getWriter().write(buffer), TypeError);
      wss.close();
      await wss.closed.catch(() => {});
    });

    it("writing a view on a shared buffer should be rejected", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      const { writable } = await within(wss.opened, WAIT, "opened");
      // The error names the WebSocketStream (it said 'send' on 'WebSocket').
      await assert.rejects(writable.getWriter().write(new Uint8Array(new SharedArrayBuffer(16))), {
        name: "TypeError",
        message: "Failed to write to 'WebSocketStream': The provided ArrayBuffer value must not be shared.",
      });
      wss.close();
      await wss.closed.catch(() => {});
    });

    /** write.any.js's sendGoodbyeThenBigMessage: the server closes on "Goodbye" while 8 MiB are on their way. */
    async function sendGoodbyeThenBigMessage(t: import("node:test").TestContext) {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/echo_exit`);
      const { writable } = await within(wss.opened, WAIT, "opened");
      const writer = writable.getWriter();
      const goodbye = writer.write("Goodbye");
      const bigMessage = writer.write(new Uint8Array(8 * 1024 * 1024));
      bigMessage.catch(() => {});
      await goodbye;
      const closedError = await within(rejectionOf(wss.closed), WAIT, "closed");
      assert.ok(isWebSocketError(closedError), "a WebSocketError should be thrown");
      return { writer, bigMessage };
    }

    it("a write that was incomplete at close time should reject", async (t) => {
      const { writer, bigMessage } = await sendGoodbyeThenBigMessage(t);
      const invalidStateError = await rejectionOf(bigMessage);
      assert.equal((invalidStateError as Error).name, "InvalidStateError");
      assert.equal(await rejectionOf(writer.write("word")), invalidStateError);
    });

    it("garbage collection after close with a pending write promise should not crash", async (t) => {
      const { bigMessage } = await sendGoodbyeThenBigMessage(t);
      for (let i = 0; i < 5; i++) await garbageCollect();
      assert.equal(((await rejectionOf(bigMessage)) as Error).name, "InvalidStateError");
    });

    it("Garbage collecting a WebSocket stream doesn't crash while write promise is pending", async (t) => {
      const { echo } = await wptServers(t, certificate);
      let wss: WebSocketStream | null = new Stream(echo);
      let { writable } = await within(wss.opened, WAIT, "opened");
      let writer: WritableStreamDefaultWriter | null = writable.getWriter();
      const closed = wss.closed;
      wss = null;
      writable = null as unknown as typeof writable;
      const promises: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) promises.push(writer.write(new Uint8Array(100000)));
      writer = null;
      for (let i = 0; i < 5; i++) await garbageCollect();
      await within(Promise.all(promises), WAIT, "the writes");
      void closed;
    });

    it("(sockjet) messages are written in order: strings, ArrayBuffers and views", async (t) => {
      const { echo } = await wptServers(t, certificate);
      const wss = new Stream(echo);
      const { readable, writable } = await within(wss.opened, WAIT, "opened");
      const writer = writable.getWriter();
      writer.write("one");
      writer.write(new Uint8Array([2, 2]).buffer);
      writer.write(new DataView(new Uint8Array([3, 3, 3]).buffer));
      writer.write("four");
      const reader = readable.getReader();
      const got: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        const { value } = await within(reader.read(), WAIT, `message ${i}`);
        got.push(typeof value === "string" ? value : [...(value as Uint8Array)]);
      }
      assert.deepEqual(got, ["one", [2, 2], [3, 3, 3], "four"]);
      wss.close();
      await wss.closed;
    });
  });

  describe(`WPT websockets/stream/tentative/remote-close.any.js?${variant}`, () => {
    it("clean close should be clean", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/remote-close?code=1000`);
      const { readable, writable } = await within(wss.opened, WAIT, "opened");
      assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 1000, reason: "" });
      const { done } = await readable.getReader().read();
      assert.equal(done, true);
      const error = await rejectionOf(writable.getWriter().ready);
      assert.equal((error as Error).name, "InvalidStateError");
    });

    it("close frame with no body should result in status code 1005", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/remote-close`);
      assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 1005, reason: "" });
    });

    it("reason should be passed through", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/remote-close?code=4000&reason=robot`);
      assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 4000, reason: "robot" });
    });

    it("UTF-8 reason should work", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/remote-close?code=4000&reason=%E3%83%AD%E3%83%9C%E3%83%83%E3%83%88`);
      const { reason } = await within(wss.closed, WAIT, "closed");
      assert.equal(reason, "ロボット");
    });

    it("close with unwritten data should not be considered clean", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/remote-close?code=4567`);
      const { writable } = await within(wss.opened, WAIT, "opened");
      const write = writable.getWriter().write(new Uint8Array(20 * 1024 * 1024));
      write.catch(() => {});
      const error = await within(rejectionOf(wss.closed), WAIT, "closed");
      assert.ok(isWebSocketError(error), "error should be WebSocketError");
      assert.equal(error.closeCode, 4567);
      await assert.rejects(write);
    });

    it("remote code and reason should be used", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/remote-close?code=4222&reason=remote`);
      await within(wss.opened, WAIT, "opened");
      wss.close({ closeCode: 4111, reason: "local" });
      assert.deepEqual(await within(wss.closed, WAIT, "closed"), { closeCode: 4222, reason: "remote" });
    });

    it("abrupt close should give an error", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/remote-close?abrupt=1`);
      const { readable, writable } = await within(wss.opened, WAIT, "opened");
      const error = await within(rejectionOf(wss.closed), WAIT, "closed");
      assert.ok(isWebSocketError(error));
      assert.equal(error.name, "WebSocketError");
      assert.equal(error.closeCode, 1006);
      assert.equal(await rejectionOf(readable.getReader().read()), error);
      assert.equal(await rejectionOf(writable.getWriter().ready), error);
    });
  });

  describe(`WPT websockets/stream/tentative/backpressure-*.any.js?${variant}`, () => {
    // The WPT allows this much timer jitter.
    const JITTER_ALLOWANCE_MS = 200;

    it("backpressure should be applied to received messages", async (t) => {
      const { base } = await wptServers(t, certificate);
      const wss = new Stream(`${base}/send-backpressure`);
      const { readable } = await within(wss.opened, WAIT, "opened");
      const reader = readable.getReader();
      // Create backpressure for 2 seconds.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      // Skip the empty message used to fill the readable queue, then the large ones.
      for (let i = 0; i < 17; i++) await within(reader.read(), WAIT, `message ${i}`);
      const { value } = await within(reader.read(), WAIT, "the time");
      assert.ok(Number(value) >= 2 - JITTER_ALLOWANCE_MS / 1000, `sending took ${value} s, not at least 2`);
      wss.close();
      await wss.closed;
    });

    it("backpressure should be applied to sent messages", async (t) => {
      const { receiveBackpressure } = await wptServers(t, certificate);
      const wss = new Stream(receiveBackpressure);
      const { writable } = await within(wss.opened, WAIT, "opened");
      const start = performance.now();
      await within(writable.getWriter().write(new Uint8Array(8 * 1024 * 1024)), 10_000, "the write");
      const elapsed = performance.now() - start;
      assert.ok(elapsed >= 2000 - JITTER_ALLOWANCE_MS, `the write took ${elapsed} ms, not at least 2 s`);
      wss.close();
      await wss.closed.catch(() => {});
    });
  });
}

describe("(sockjet) WebSocketError, as the draft defines it", () => {
  it("WebSocketError defaults", () => {
    const error = new WebSocketError();
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "WebSocketError");
    assert.equal(error.message, "");
    assert.equal(error.closeCode, null);
    assert.equal(error.reason, "");
  });

  it("WebSocketError with a message, code and reason", () => {
    const error = new WebSocketError("msg", { closeCode: 3000, reason: "why" });
    assert.equal(error.message, "msg");
    assert.equal(error.closeCode, 3000);
    assert.equal(error.reason, "why");
  });

  it("a reason without a code defaults the code to 1000", () => {
    assert.equal(new WebSocketError("", { reason: "x" }).closeCode, 1000);
  });

  it("invalid codes and reasons throw", () => {
    assert.throws(() => new WebSocketError("", { closeCode: 1001 }), { name: "InvalidAccessError" });
    assert.throws(() => new WebSocketError("", { closeCode: 70000 }), TypeError);
    assert.throws(() => new WebSocketError("", { closeCode: Number.NaN }), TypeError);
    assert.throws(() => new WebSocketError("", { reason: "x".repeat(124) }), { name: "SyntaxError" });
  });
});
