import assert from "node:assert/strict";
import { openAsBlob, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { nextConnection, onMessage, openClient, startServer, waitFor } from "./helpers.js";

// Issue 21 item 5: publish() accepts what send() accepts, Blobs included (server sockets' default binaryType
// is "blob"), in call order. Before, a Blob made publish() throw, so the README's pub/sub example — a
// 'message' listener that publishes event.data — killed the server when a peer sent binary.

/** Messages as comparable values: text as is, binary as "bytes:<hex>". */
function collect(messages: unknown[]): (data: unknown) => void {
  return (data) =>
    messages.push(
      typeof data === "string" ? data : `bytes:${Buffer.from(data as ArrayBuffer).toString("hex")}`,
    );
}

describe("issue 21 item 5: publish() takes a Blob, in call order", () => {
  test("regression: the README's example (socket.publish(room, event.data)) relays a binary message as binary", async (t) => {
    const { server, url } = await startServer(t);
    server.on("connection", (socket) => {
      socket.subscribe("room");
      // binaryType stays "blob", the default of accepted sockets: event.data is a Blob.
      socket.onmessage = (event) => socket.publish("room", event.data);
    });
    const sender = await openClient(t, url);
    const receiver = await openClient(t, url);
    receiver.binaryType = "arraybuffer";
    await waitFor(() => server.subscriberCount("room") === 2, 3000, "two subscribers");
    const received: unknown[] = [];
    onMessage(receiver, collect(received));
    sender.send(new Uint8Array([1, 2, 3, 0xff]));
    sender.send("after the bytes");
    await waitFor(() => received.length === 2, 3000, "two relayed messages");
    assert.deepEqual(received, ["bytes:010203ff", "after the bytes"]);
    assert.equal(server.clients.size, 2, "the server and both connections are still up");
  });

  test("regression: Blobs and other data published in one burst arrive in call order, Blobs as binary", async (t) => {
    const { server, url } = await startServer(t);
    const accepted = nextConnection(server);
    const client = await openClient(t, url);
    client.binaryType = "arraybuffer";
    const [socket] = await accepted;
    socket.subscribe("t");
    const received: unknown[] = [];
    onMessage(client, collect(received));
    const view = new Uint8Array([7, 7]);
    const returned = [
      server.publish("t", "first"),
      server.publish("t", new Blob([new Uint8Array([0xaa, 0xbb])])),
      server.publish("t", "behind the blob"),
      server.publish("t", view),
      server.publish("t", new Blob(["blob as text"]), { binary: false }),
      server.publish("t", "last"),
    ];
    // The bytes of a view are those at the time of the call, even while it waits behind a Blob.
    view.fill(0);
    assert.deepEqual(returned, [1, 0, 0, 0, 0, 0], "delivered now: 1; waiting behind a Blob: 0");
    await waitFor(() => received.length === 6, 3000, "six messages");
    assert.deepEqual(received, [
      "first",
      "bytes:aabb",
      "behind the blob",
      "bytes:0707",
      "blob as text",
      "last",
    ]);
    await server.adapterSettled();
    assert.equal(server.pubsubStats.published, 6);
    // Once the line has emptied, a publish is delivered at once again.
    assert.equal(server.publish("t", "now"), 1);
  });

  test("bytes that are not UTF-8 published as text still throw at the call, even behind a Blob", async (t) => {
    const { server } = await startServer(t);
    server.publish("t", new Blob(["x"]));
    assert.throws(() => server.publish("t", Buffer.from([0xff]), { binary: false }), TypeError);
  });

  test("regression: a Blob that cannot be read is a 'publishError' (error, topic), not the server's 'error'; later publishes go on", async (t) => {
    const { server, url, errors } = await startServer(t);
    const accepted = nextConnection(server);
    const client = await openClient(t, url);
    const [socket] = await accepted;
    socket.subscribe("t");
    const received: unknown[] = [];
    onMessage(client, collect(received));
    const failures: [Error, string][] = [];
    server.on("publishError", (error: Error, topic: string) => failures.push([error, topic]));

    server.publish("t", "before");
    server.publish("t", await unreadableBlob(t));
    server.publish("t", "after");
    await waitFor(() => received.length === 2 && failures.length === 1, 3000, "two messages, one failure");
    assert.deepEqual(received, ["before", "after"]);
    assert.equal(failures[0]![1], "t");
    assert.match(failures[0]![0].message, /publish to 't' was not delivered/);
    assert.deepEqual(errors, [], "no 'error' event: an 'error' with no listener kills the process");
  });

  test("regression: with no 'publishError' listener, an unreadable Blob prints one process warning", async (t) => {
    const { server, errors } = await startServer(t);
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => {
      if ((warning as { code?: string }).code === "SJ_PUBLISH_FAILED") warnings.push(warning);
    };
    process.on("warning", onWarning);
    t.after(() => process.off("warning", onWarning));
    server.publish("t", await unreadableBlob(t));
    server.publish("t", await unreadableBlob(t));
    await server.adapterSettled();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(warnings.length, 1, "one warning, not one per failure");
    assert.deepEqual(errors, []);
  });
});

/** A Blob backed by a file that changed on disk after it was made: reading it fails (NotReadableError). */
async function unreadableBlob(t: { after: (fn: () => Promise<void>) => void }): Promise<Blob> {
  const folder = await mkdtemp(join(tmpdir(), "sockjet-blob-"));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const file = join(folder, "data");
  writeFileSync(file, "x".repeat(1000));
  const blob = await openAsBlob(file);
  writeFileSync(file, "y".repeat(10));
  return blob;
}
