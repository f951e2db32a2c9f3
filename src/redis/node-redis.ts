import { createRequire } from "node:module";
import type * as NodeRedis from "redis";

// node-redis, the optional peer dependency, loaded in this one place. A static `import … from "redis"` of a
// package that is not installed fails with Node's bare "Cannot find package 'redis'"; this says what is
// missing and how to add it. It is loaded with require() (node-redis is CommonJS), so ESM and CommonJS
// consumers, and the user's own `import "redis"`, share one instance (instanceof holds across them).

function loadNodeRedis(): typeof NodeRedis {
  try {
    return createRequire(import.meta.url)("redis") as typeof NodeRedis;
  } catch (error) {
    const missing =
      (error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" &&
      /Cannot find module 'redis'/.test((error as Error).message);
    if (!missing) throw error;
    throw new Error(
      "sockjet/redis needs the package 'redis' (node-redis 5 or 6), an optional peer dependency of sockjet " +
        "that is not installed: npm install redis",
      { cause: error },
    );
  }
}

export const { createClient, createCluster, DisconnectsClientError, TimeoutError } = loadNodeRedis();
