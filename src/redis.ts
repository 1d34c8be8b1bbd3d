import { Redis, type RedisOptions } from "ioredis";

export type { Redis };

/**
 * Every key of the app and of BullMQ shares one hash tag, so Lua scripts and MULTI blocks that touch
 * several keys stay valid on a Redis Cluster (all of them live in one slot).
 */
export function keyPrefix(prefix: string): string {
  return `{${prefix}}`;
}

export interface RedisFactoryOptions {
  url: string;
  /** Workers block on Redis and must wait for it forever; producers should fail fast instead. */
  role: "worker" | "producer";
  name?: string;
}

export function createRedis(opts: RedisFactoryOptions): Redis {
  const base: RedisOptions = {
    connectionName: opts.name,
    // Reconnect with a capped backoff; a Redis restart must not kill the process.
    retryStrategy: (times) => Math.min(times * 200, 5_000),
    lazyConnect: false,
  };
  const options: RedisOptions =
    opts.role === "worker"
      ? { ...base, maxRetriesPerRequest: null, enableReadyCheck: true }
      : { ...base, maxRetriesPerRequest: 3, enableOfflineQueue: true };
  return new Redis(opts.url, options);
}
