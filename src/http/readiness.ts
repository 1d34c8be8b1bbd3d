import { GrammyError, HttpError, type Api } from "grammy";
import type { Redis } from "../redis.ts";

/**
 * Why a Telegram call failed, safe to show in /readyz and logs: the underlying network error's
 * message can carry the request URL (and so the bot token), so only its error code is used.
 */
export function telegramProblem(err: unknown): string {
  if (err instanceof GrammyError) return `Telegram answered ${err.error_code}: ${err.description}`;
  if (err instanceof HttpError) {
    const code = (err.error as { code?: unknown } | undefined)?.code;
    return `Telegram unreachable${typeof code === "string" ? ` (${code})` : ""}`;
  }
  return "Telegram check failed";
}

/** /readyz checks: Redis answers PING and Telegram answers getMe. */
export function createReadinessChecks(deps: { redis: Redis; telegram: Api }): Record<string, () => Promise<void>> {
  return {
    redis: async () => {
      const pong = await deps.redis.ping();
      if (pong !== "PONG") throw new Error(`Redis answered ${pong}`);
    },
    telegram: async () => {
      try {
        await deps.telegram.getMe();
      } catch (err) {
        throw new Error(telegramProblem(err));
      }
    },
  };
}
