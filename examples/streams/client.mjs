// Sends a file to the streams example's echo as binary messages and reads the echo back at the same time:
// the file is read from disk only as fast as the server takes it, and the server sends only as fast as we
// read. Prints the bytes echoed and their SHA-256, which match the file's.
// Run: node examples/streams/client.mjs FILE [URL]   (URL defaults to ws://localhost:8080/ws)
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { WebSocketStream } from "sockjet";

const [file, url = "ws://localhost:8080/ws"] = process.argv.slice(2);
if (!file) {
  console.error("usage: node examples/streams/client.mjs FILE [URL]");
  process.exit(2);
}

const stream = new WebSocketStream(url);
const { readable, writable } = await stream.opened;

// Send: the file as binary messages, then "end" as a text message (preventClose: the writer stays ours).
const sending = (async () => {
  await Readable.toWeb(createReadStream(file)).pipeTo(writable, { preventClose: true });
  const writer = writable.getWriter();
  await writer.write("end");
  writer.releaseLock();
})();

// Receive, concurrently (not reading would stop the server, which would stop our sending): until "end".
const hash = createHash("sha256");
let bytes = 0;
for await (const message of readable.values({ preventCancel: true })) {
  if (typeof message === "string") break; // our "end", echoed: everything before it has arrived
  hash.update(message);
  bytes += message.byteLength;
}
await sending;
stream.close({ closeCode: 1000, reason: "done" });
const { closeCode } = await stream.closed;
console.log(`echoed ${bytes} bytes, sha256 ${hash.digest("hex")}, closed ${closeCode}`);
