import type { WebSocket } from "../web/websocket.js";

// What `server.publish()` takes and what `server.pubsubStats` gives (src/server/pubsub.ts).

/** Options of `server.publish()`. */
export interface PublishOptions {
  /** A local socket that must not get this message (socket.publish() passes the publisher). */
  except?: WebSocket | null;
  /** Send as a binary message (a string's UTF-8 bytes) or as text (bytes must be UTF-8). Default: by type. */
  binary?: boolean;
}

/** Counters of this process's pub/sub (`server.pubsubStats`). */
export interface PubSubStats {
  /** Publishes made in this process (server.publish and socket.publish). */
  published: number;
  /** Writes of a message to a local subscriber. */
  delivered: number;
  /** Local subscribers skipped: closing, or a "pause" slow consumer over maxBufferedBytes. */
  dropped: number;
  /** Frames built: at most one per message, whatever the number of subscribers. */
  framesEncoded: number;
  /**
   * Compressions for permessage-deflate subscribers: at most one per message and compressor configuration
   * (subscribers whose server side keeps context, `serverNoContextTakeover: false`, are compressed each).
   */
  sharedCompressions: number;
  /** Publishes the adapter has taken. */
  adapterPublished: number;
  /** Publishes the adapter could not take (each reported as an 'error'): lost for the other processes. */
  adapterFailed: number;
  /** Messages received from other processes through the adapter. */
  received: number;
}
