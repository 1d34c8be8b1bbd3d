import type { Redis } from "ioredis";
import { parseCatalog, type Catalog } from "../src/catalog.ts";
import { loadConfig, type Config } from "../src/config.ts";
import { createLogger } from "../src/logger.ts";
import { startRedis, type RedisProcess } from "../test/support/redis-server.ts";

export { startRedis, type RedisProcess };

/** A catalog with `n` topics named t00..t19 (no keywords: the bench names topics explicitly). */
export function benchCatalog(n: number): Catalog {
  const topics = Array.from({ length: n }, (_, i) => {
    const id = `t${String(i).padStart(2, "0")}`;
    return `  - { id: ${id}, title: { en: Topic ${i}, ru: Тема ${i} } }`;
  }).join("\n");
  return parseCatalog(`agency: Bench\ntopics:\n${topics}\n`, "bench catalog");
}

export function benchConfig(redisUrl: string, extra: Record<string, string> = {}): Config {
  return loadConfig({ BOT_TOKEN: "123456:TEST-token", REDIS_URL: redisUrl, REDIS_PREFIX: "bench", LOG_LEVEL: "warn", ...extra });
}

export const quietLogger = () => createLogger({ level: "warn", pretty: false });

export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

export function machine(): Record<string, string | number> {
   
  return { node: process.version, platform: `${process.platform}-${process.arch}` };
}
