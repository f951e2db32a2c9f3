import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type CloseEvent, WebSocket } from "../../src/index.js";
import { peerServer, until, within } from "./helpers.js";

// The browser code an MDN reader writes, run unchanged against the npm `ws` server: only the URL (a real
// port) differs, and `console` is shadowed so that what the snippet logs can be checked. Each snippet is
// the body of an MDN example (WebSocket, message event, binaryType, close(), CloseEvent, "Writing WebSocket
// client applications").

type Logged = unknown[][];

/** A console whose log() records its arguments; the snippets call console.log as they do on MDN. */
function capture(): {
  console: { log: (...args: unknown[]) => void; error: (...args: unknown[]) => void };
  logs: Logged;
} {
  const logs: Logged = [];
  return {
    logs,
    console: { log: (...args) => logs.push(args), error: (...args) => logs.push(["error", ...args]) },
  };
}

/** A server like the ones MDN's examples talk to: greets "Hello Server!", echoes the rest. */
async function mdnServer(t: Parameters<typeof peerServer>[0]) {
  const peer = await peerServer(t, { handleProtocols: (protocols) => [...protocols][0] ?? false });
  const received: string[] = [];
  peer.server.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => {
      received.push(isBinary ? `<binary ${(data as Buffer).length}>` : data.toString());
      if (!isBinary && data.toString() === "Hello Server!") socket.send("Hello Client!");
      else socket.send(data, { binary: isBinary });
    });
  });
  return { ...peer, received, localhostUrl: `ws://localhost:${peer.port}` };
}

describe("MDN snippets run unchanged", () => {
  test("WebSocket: message event — addEventListener and onmessage (the seed)", async (t) => {
    const server = await mdnServer(t);
    const { console, logs } = capture();
    const sockets: WebSocket[] = [];
    t.after(() => {
      for (const s of sockets) s.close();
    });

    // --- MDN: WebSocket: message event ---
    const socket = new WebSocket(server.localhostUrl);
    sockets.push(socket);

    socket.addEventListener("message", (event) => {
      console.log("Message from server ", event.data);
    });

    socket.onmessage = (event) => {
      console.log("Message from server ", event.data);
    };
    // --- end ---

    socket.addEventListener("open", () => socket.send("Hello Server!"));
    await until(() => logs.length === 2, 3000, "two log lines");
    assert.deepEqual(logs, [
      ["Message from server ", "Hello Client!"],
      ["Message from server ", "Hello Client!"],
    ]);
  });

  test("WebSocket: the interface example (open → send, message → log)", async (t) => {
    const server = await mdnServer(t);
    const { console, logs } = capture();

    // --- MDN: WebSocket ---
    // Create WebSocket connection.
    const socket = new WebSocket(server.localhostUrl);

    // Connection opened
    socket.addEventListener("open", (_event) => {
      socket.send("Hello Server!");
    });

    // Listen for messages
    socket.addEventListener("message", (event) => {
      console.log("Message from server ", event.data);
    });
    // --- end ---

    t.after(() => socket.close());
    await until(() => logs.length === 1, 3000, "the server's answer");
    assert.deepEqual(logs, [["Message from server ", "Hello Client!"]]);
    assert.deepEqual(server.received, ["Hello Server!"]);
  });

  test("WebSocket: binaryType = 'arraybuffer' with a DataView", async (t) => {
    const server = await mdnServer(t);
    const { console, logs } = capture();

    // --- MDN: WebSocket: binaryType property ---
    // Create WebSocket connection.
    const socket = new WebSocket(server.localhostUrl);

    // Change binary type from "blob" to "arraybuffer"
    socket.binaryType = "arraybuffer";

    // Listen for messages
    socket.addEventListener("message", (event) => {
      if (event.data instanceof ArrayBuffer) {
        // binary frame
        const view = new DataView(event.data);
        console.log(view.getInt8(0));
      } else {
        // text frame
        console.log(event.data);
      }
    });
    // --- end ---

    t.after(() => socket.close());
    socket.addEventListener("open", () => {
      socket.send(new Int8Array([-42, 7]));
      socket.send("text frame");
    });
    await until(() => logs.length === 2, 3000, "two messages");
    assert.deepEqual(logs, [[-42], ["text frame"]]);
  });

  test("Blob data (the default binaryType) read with await event.data.text() / arrayBuffer()", async (t) => {
    const server = await mdnServer(t);
    const { console, logs } = capture();

    const socket = new WebSocket(server.localhostUrl);
    socket.addEventListener("message", async (event) => {
      if (event.data instanceof Blob) {
        console.log("blob", await event.data.text(), event.data.size);
      }
    });
    socket.addEventListener("open", () => socket.send(new Blob(["from a Blob"])));

    t.after(() => socket.close());
    await until(() => logs.length === 1, 3000, "the echoed Blob");
    assert.deepEqual(logs, [["blob", "from a Blob", 11]]);
  });

  test("WebSocket: close() with a code and a reason, and the close event's wasClean/code/reason", async (t) => {
    const server = await mdnServer(t);
    const { console, logs } = capture();

    const socket = new WebSocket(server.localhostUrl);
    socket.addEventListener("open", () => {
      socket.close(1000, "Work complete");
    });

    // --- MDN: WebSocket: close event ---
    socket.addEventListener("close", (_event) => {
      console.log("The connection has been closed successfully.");
    });
    socket.onclose = (event) => {
      if (event.wasClean) {
        console.log(`[close] Connection closed cleanly, code=${event.code} reason=${event.reason}`);
      } else {
        // e.g. server process killed or network down
        // event.code is usually 1006 in this case
        console.log("[close] Connection died");
      }
    };
    // --- end ---

    await until(() => logs.length === 2, 3000, "the close logs");
    assert.deepEqual(logs, [
      ["The connection has been closed successfully."],
      ["[close] Connection closed cleanly, code=1000 reason=Work complete"],
    ]);
    assert.equal(socket.readyState, WebSocket.CLOSED);
  });

  test("WebSocket: error event on a connection that cannot be made, then close 1006", async (t) => {
    const server = await mdnServer(t);
    const port = server.port;
    await new Promise((resolve) => server.server.close(resolve)); // nothing listens there any more
    const { console, logs } = capture();

    // --- MDN: WebSocket: error event ---
    // Create WebSocket connection
    const socket = new WebSocket(`ws://127.0.0.1:${port}`);

    // Listen for possible errors
    socket.addEventListener("error", (event) => {
      console.log("WebSocket error: ", event);
    });
    // --- end ---
    socket.onclose = (event) => console.log(event.wasClean ? "clean" : "[close] Connection died", event.code);

    await until(() => logs.length === 2, 3000, "error and close");
    assert.equal(logs[0][0], "WebSocket error: ");
    assert.equal((logs[0][1] as Event).type, "error");
    assert.deepEqual(logs[1], ["[close] Connection died", 1006]);
  });

  test("Writing WebSocket client applications: subprotocols, onopen/onmessage, JSON, close()", async (t) => {
    const server = await mdnServer(t);
    const { console, logs } = capture();
    const clientID = 7;
    const text = { value: "Hello from the text box" };

    // --- MDN: Writing WebSocket client applications ---
    const exampleSocket = new WebSocket(server.url, ["protocolOne", "protocolTwo"]);

    exampleSocket.onopen = (_event) => {
      exampleSocket.send("Here's some text that the server is urgently awaiting!");
      sendText();
    };

    // Send text to all users through the server
    function sendText() {
      // Construct a msg object containing the data the server needs to process the message from the chat client.
      const msg = {
        type: "message",
        text: text.value,
        id: clientID,
        date: Date.now(),
      };

      // Send the msg object as a JSON-formatted string.
      exampleSocket.send(JSON.stringify(msg));
    }

    exampleSocket.onmessage = (event) => {
      const f = event.data;
      let msg: { type?: string; text?: string; id?: number } | undefined;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.log(f);
        return;
      }
      switch (msg?.type) {
        case "message":
          console.log(`<${msg.id}> ${msg.text}`);
          exampleSocket.close();
          break;
      }
    };
    // --- end ---

    const closed = within(
      new Promise<CloseEvent>((resolve) => exampleSocket.addEventListener("close", resolve)),
      3000,
      "close",
    );
    const event = await closed;
    assert.equal(exampleSocket.protocol, "protocolOne");
    assert.deepEqual(logs, [
      ["Here's some text that the server is urgently awaiting!"],
      [`<7> Hello from the text box`],
    ]);
    assert.deepEqual([event.code, event.wasClean], [1005, true]);
  });

  test("readyState checks against WebSocket.OPEN, and the bufferedAmount throttle loop", async (t) => {
    const server = await mdnServer(t);
    const socket = new WebSocket(server.localhostUrl);
    t.after(() => socket.close());
    let sent = 0;

    // MDN: WebSocket: bufferedAmount — send more only once everything queued has gone out.
    const timer = setInterval(() => {
      if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount === 0 && sent < 5) {
        socket.send(`chunk ${sent++}`);
      }
    }, 5);
    t.after(() => clearInterval(timer));

    await until(() => server.received.length === 5, 3000, "5 throttled messages");
    assert.deepEqual(server.received, ["chunk 0", "chunk 1", "chunk 2", "chunk 3", "chunk 4"]);
  });

  test("MessageEvent: checking event.origin before trusting the data", async (t) => {
    const server = await mdnServer(t);
    const { console, logs } = capture();
    const socket = new WebSocket(server.url);
    t.after(() => socket.close());

    socket.addEventListener("open", () => socket.send("ping"));
    socket.addEventListener("message", (event) => {
      if (event.origin !== `ws://127.0.0.1:${server.port}`) return;
      console.log(event.data, event.lastEventId, event.source, event.ports.length);
    });

    await until(() => logs.length === 1, 3000, "the trusted message");
    assert.deepEqual(logs, [["ping", "", null, 0]]);
  });
});
