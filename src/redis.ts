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

/** One quick connection attempt, so start-up can fail with a clear line instead of endless retries. */
export async function checkRedis(url: string, timeoutMs = 5_000): Promise<{ ok: true; evictionPolicy?: string } | { ok: false; reason: string }> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, connectTimeout: timeoutMs, maxRetriesPerRequest: 0 });
  let lastError: string | undefined;
  probe.on("error", (err: Error) => (lastError = err.message));
  try {
    await probe.connect();
    await probe.ping();
    const policy = await probe.config("GET", "maxmemory-policy").then((r) => (r as string[])[1]).catch(() => undefined);
    return policy ? { ok: true, evictionPolicy: policy } : { ok: true };
  } catch (err) {
    return { ok: false, reason: lastError ?? (err as Error).message };
  } finally {
    probe.disconnect();
  }
}
