// A typed server: the event and option types come from the package (no DOM lib; @types/node, which its types use).
// Check: npx tsc -p examples/typescript   Run: node --import tsx examples/typescript/server.ts
import type { IncomingMessage } from "node:http";
import {
  type CloseEvent,
  type MessageEvent,
  type WebSocket,
  WebSocketServer,
  type WebSocketServerOptions,
} from "sockjet";

interface ChatMessage {
  text: string;
}

function parse(data: unknown): ChatMessage | null {
  if (typeof data !== "string") return null;
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === "object" && value !== null && typeof (value as ChatMessage).text === "string") {
      return value as ChatMessage;
    }
  } catch {}
  return null;
}

const options: WebSocketServerOptions = {
  port: Number(process.env.PORT ?? 8080),
  host: process.env.HOST ?? "localhost",
  maxPayloadBytes: 64 * 1024,
  origins: "same-origin",
};
const server = new WebSocketServer(options);

server.on("listening", () => {
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  console.log(`listening on http://localhost:${port}/ (WebSocket: /)`);
});
server.on("connection", (socket: WebSocket, request: IncomingMessage) => {
  socket.addEventListener("message", (event: MessageEvent) => {
    const message = parse(event.data);
    if (message === null) {
      socket.close(4000, "expected JSON: { text: string }");
      return;
    }
    socket.send(JSON.stringify({ text: message.text.toUpperCase(), from: request.socket.remoteAddress }));
  });
  socket.addEventListener("close", (event: CloseEvent) => {
    if (!event.wasClean) console.error(`connection lost: ${event.code}`);
  });
});

process.once("SIGTERM", async () => {
  await server.close();
  process.exit(0);
});
