/**
 * The WHATWG WebSocket on Node.js (client and server connections), the WebSocketServer with topics, and
 * their events and errors.
 * @module sockjet
 */
export { setDefaultHttp2Mode } from "./client/http2-connect.js";
export type { Http2Mode } from "./client/http2-session-pool.js";
export type { ProxyOption, ProxySettings } from "./client/proxy.js";
export { ClusterAdapter, type ClusterAdapterOptions } from "./cluster/adapter.js";
export { ClusterRelay, type ClusterRelayOptions, type ClusterRelayStats } from "./cluster/relay.js";
export {
  ClusterResumeHost,
  type ClusterResumeHostOptions,
  type ClusterResumeHostStats,
} from "./cluster/resume-host.js";
export { ClusterResumeStore, type ClusterResumeStoreOptions } from "./cluster/resume-store.js";
export type { HeartbeatOptions } from "./connection/heartbeat.js";
export type { RateLimitOptions } from "./connection/rate-limit.js";
export { CloseCode } from "./protocol/constants.js";
export {
  ConnectionLostError,
  type ConnectionLostErrorCode,
  HandshakeError,
  type HandshakeErrorCode,
  ProtocolError,
  type ProtocolErrorCode,
} from "./protocol/errors.js";
export {
  type PerMessageDeflateOption,
  type PerMessageDeflateOptions,
  perMessageDeflateClient,
  perMessageDeflateServer,
  setZlibConcurrency,
} from "./protocol/permessage-deflate/index.js";
export {
  type AdapterMessage,
  type PubSubAdapter,
  PubSubError,
  type PubSubErrorCode,
} from "./server/adapter.js";
export { handleHttp2Stream, isExtendedConnect } from "./server/http2-upgrade.js";
export {
  MEMORY_RESUME_DEFAULTS,
  MemoryResumeStore,
  type MemoryResumeStoreOptions,
} from "./server/memory-resume-store.js";
export type {
  Rejection,
  Verified,
  VerifyInfo,
  VerifyResult,
  WebSocketServerOptions,
} from "./server/options.js";
export type { OriginsOption } from "./server/origin-policy.js";
export type { PublishOptions, PubSubStats } from "./server/pubsub.js";
export { resumeClientModule, resumeClientModulePath } from "./server/resume-client-file.js";
export { RESUME_DEFAULTS, type ResumeOptions } from "./server/resume-options.js";
export {
  comparePositions,
  type ResumeStore,
  type SessionRecord,
  type StoredMessage,
} from "./server/resume-store.js";
export { diagnostics, type WebSocketServerEventMap } from "./server/server-events.js";
export { WebSocketServer } from "./server/websocket-server.js";
export {
  CloseEvent,
  type CloseEventInit,
  ErrorEvent,
  type ErrorEventInit,
  MessageEvent,
  type MessageEventInit,
} from "./web/events.js";
export {
  type BinaryType,
  type EventHandler,
  type SendOptions,
  WebSocket,
  type WebSocketEventMap,
  type WebSocketOptions,
} from "./web/websocket.js";
export { type WebSocketCloseInfo, WebSocketError } from "./web/websocket-error.js";
export type { HeadersLike } from "./web/websocket-options.js";
export {
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamChunk,
  type WebSocketStreamCloseInfo,
  type WebSocketStreamOptions,
} from "./web/websocket-stream.js";
