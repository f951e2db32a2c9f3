import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ClusterAdapter, ClusterRelay, WebSocketServer } from "../../src/index.js";
import { RedisAdapter } from "../../src/redis/index.js";

// Scale-out options of the wrong type are TypeErrors that name them (review 133): each of these was
// accepted and then lost every message between processes without a word.

describe("pub/sub options of the wrong type", () => {
  test("ClusterRelay maxPendingBytes that is not a number above 0", () => {
    for (const value of ["16MB", 0, -1, Number.NaN]) {
      assert.throws(() => new ClusterRelay({ maxPendingBytes: value as never }), {
        name: "TypeError",
        message: /ClusterRelay: options\.maxPendingBytes must be a number above 0/,
      });
    }
  });

  test("ClusterAdapter namespace that is not a string", () => {
    for (const value of [42, {}, true]) {
      assert.throws(() => new ClusterAdapter({ namespace: value as never }), {
        name: "TypeError",
        message: /ClusterAdapter: options\.namespace must be a string/,
      });
    }
  });

  test("RedisAdapter prefix or url that is not a string", () => {
    for (const value of [5, {}, true]) {
      assert.throws(() => new RedisAdapter({ url: "redis://127.0.0.1:1", prefix: value as never }), {
        name: "TypeError",
        message: /RedisAdapter: options\.prefix must be a string/,
      });
    }
    assert.throws(() => new RedisAdapter({ url: 5 as never }), {
      name: "TypeError",
      message: /RedisAdapter: options\.url must be a string/,
    });
  });

  test("a server's adapter that is not a PubSubAdapter", () => {
    for (const value of [{}, "redis://localhost:6379", 5]) {
      assert.throws(() => new WebSocketServer({ noServer: true, adapter: value as never }), {
        name: "TypeError",
        message: /options\.adapter must be a PubSubAdapter .*this one has no publish/,
      });
    }
  });
});
