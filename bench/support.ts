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

/**
 * Per-approach medians over repeated runs: every numeric field is the median of its runs; other
 * fields (labels, per-second series) come from the run whose first numeric-rate field
 * (`achievedRate` or `rate`) is the median one, so a chart shows a run that really happened.
 */
export function medianRows<T extends { approach: string }>(runs: T[][]): T[] {
  const order = runs[0]?.map((r) => r.approach) ?? [];
  return order.map((approach) => {
    const same = runs.map((rows) => rows.find((r) => r.approach === approach)).filter((r): r is T => r !== undefined);
    const rec = (r: T) => r as unknown as Record<string, unknown>;
    const key = ["achievedRate", "rate"].find((k) => typeof rec(same[0]!)[k] === "number");
    const sorted = key ? [...same].sort((a, b) => (rec(a)[key] as number) - (rec(b)[key] as number)) : same;
    const representative = sorted[Math.floor((sorted.length - 1) / 2)] ?? same[0]!;
    const out: Record<string, unknown> = { ...rec(representative) };
    for (const [k, v] of Object.entries(out)) {
      if (typeof v === "number") out[k] = median(same.map((r) => rec(r)[k] as number));
    }
    return out as unknown as T;
  });
}
