// sockjet echo server: every message goes back as it came (text as text, binary as binary).
// Usage: node --import tsx bench/servers/sockjet-echo.ts [port]   (0 = any free port) — prints "LISTENING <port>".
//
// The module is imported by a specifier held in a variable, with the few members used here typed locally, so that
// this file type-checks whatever state src/ is in; at run time a missing or broken server makes this script print
// "ERROR <message>" and exit 1, which the benchmark reports as "sockjet: unavailable (<message>)".

interface EchoSocket {
  binaryType: string;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  send(data: string | ArrayBuffer): void;
}

interface EchoServer {
  on(event: "listening", listener: () => void): unknown;
  on(event: "connection", listener: (socket: EchoSocket) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  address(): { port: number } | string | null;
}

interface ServerModule {
  WebSocketServer: new (options: { port: number; host: string; perMessageDeflate: boolean }) => EchoServer;
}

function fail(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`ERROR ${message.split("\n")[0]}`);
  process.exit(1);
}

const port = Number(process.argv[2] ?? 0);
const entry = "../../src/index.js";

let WebSocketServer: ServerModule["WebSocketServer"];
try {
  ({ WebSocketServer } = (await import(entry)) as ServerModule);
  if (typeof WebSocketServer !== "function") throw new Error("src/index.js does not export WebSocketServer");
} catch (error) {
  fail(error);
}

try {
  const server = new WebSocketServer({ port, host: "127.0.0.1", perMessageDeflate: false });
  server.on("error", fail);
  server.on("listening", () => {
    const address = server.address();
    if (address === null || typeof address === "string") fail(new Error(`unexpected address(): ${address}`));
    console.log(`LISTENING ${address.port}`);
  });
  server.on("connection", (socket) => {
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => socket.send(event.data);
  });
} catch (error) {
  fail(error);
}
