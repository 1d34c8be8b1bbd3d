import type { Logger } from "./logger.ts";

/**
 * Logs the first of a repeating problem at once, then at most one line per `everyMs` with how many
 * were held back. While Redis is down every queue and worker reports each reconnect attempt; one
 * line a minute says the same thing without burying everything else.
 */
export function createThrottledReporter(logger: Logger, level: "warn" | "error", everyMs = 60_000) {
  const seen = new Map<string, { last: number; held: number }>();
  return (key: string, fields: Record<string, unknown>, msg: string) => {
    const now = Date.now();
    const s = seen.get(key);
    if (s && now - s.last < everyMs) {
      s.held++;
      return;
    }
    logger[level]({ ...fields, ...(s?.held ? { repeated: s.held } : {}) }, msg);
    seen.set(key, { last: now, held: 0 });
  };
}
