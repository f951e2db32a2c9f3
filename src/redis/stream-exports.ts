// What sockjet/redis exports of the resume store (one line in index.ts, so that it merges easily).
export { ClusterStoreClient, type RedisStoreClusterLike } from "./stream-cluster.js";
export { RedisStreamGapError } from "./stream-live-feed.js";
export { compareStreamIds } from "./stream-scripts.js";
export { RedisStreamStore } from "./stream-store.js";
export {
  RedisStoreBacklogError,
  type RedisStoreClientLike,
  RedisStoreUnavailableError,
  type RedisStreamStoreOptions,
} from "./stream-store-options.js";
