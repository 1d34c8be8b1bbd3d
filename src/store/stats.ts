import type { Redis } from "ioredis";
import { hourOf, type Keys } from "./keys.ts";

export interface Last24h {
  articles: number;
  sent: number;
  blocked: number;
  failed: number;
  failuresByReason: Record<string, number>;
}

/** Sums the hourly counters of the last 24 hours (written by the ingest and settle scripts). */
export async function last24h(redis: Redis, keys: Keys, now = Date.now()): Promise<Last24h> {
  const hours = Array.from({ length: 24 }, (_, i) => hourOf(now) - i);
  const m = redis.multi();
  for (const h of hours) m.hgetall(keys.hourly(h)).hgetall(keys.hourlyFailures(h));
  const res = (await m.exec()) ?? [];
  const out: Last24h = { articles: 0, sent: 0, blocked: 0, failed: 0, failuresByReason: {} };
  res.forEach(([, value], i) => {
    const h = (value ?? {}) as Record<string, string>;
    if (i % 2 === 0) {
      out.articles += Number(h.articles ?? 0);
      out.sent += Number(h.sent ?? 0);
      out.blocked += Number(h.blocked ?? 0);
      out.failed += Number(h.failed ?? 0);
    } else {
      for (const [reason, n] of Object.entries(h)) out.failuresByReason[reason] = (out.failuresByReason[reason] ?? 0) + Number(n);
    }
  });
  return out;
}
