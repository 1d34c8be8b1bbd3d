import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { Article } from "../news/article.ts";
import { hourOf, type Keys } from "./keys.ts";
import { runScript } from "./scripts.ts";

export type ClaimMode = "deliver" | "seen-only" | "no-topic";

export interface FeedState {
  etag?: string;
  lastModified?: string;
  initialized: boolean;
}

export interface ArticleStore {
  /**
   * Accepts an article unless one of its identities (normalised url, guid) was seen before.
   * Dedupe, storage, the delivery record and the pending mark happen in one Lua call.
   */
  claim(article: Article, identities: string[], mode: ClaimMode): Promise<{ accepted: boolean; id: string }>;
  get(id: string): Promise<Article | undefined>;
  /** Accepted articles not yet fanned out, oldest first (re-enqueued at start-up after a crash). */
  pending(limit?: number): Promise<string[]>;
  clearPending(id: string): Promise<void>;
  feedState(url: string): Promise<FeedState>;
  saveFeedState(url: string, state: { etag?: string; lastModified?: string; ok: boolean; error?: string }): Promise<void>;
  stats(): Promise<Record<string, number>>;
}

const hash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 24);

export function createArticleStore(deps: { redis: Redis; keys: Keys; seenTtlSeconds: number }): ArticleStore {
  const { redis, keys } = deps;
  return {
    async claim(article, identities, mode) {
      const seenKeys = [...new Set(identities)].map((i) => keys.seen(hash(i)));
      const res = (await runScript(
        redis,
        "claim-article",
        [keys.article(article.id), keys.delivery(article.id), keys.pending, keys.stats, keys.hourly(hourOf(Date.now())), ...seenKeys],
        [article.id, deps.seenTtlSeconds, Date.now(), mode, JSON.stringify(article), article.priority],
      )) as [number, string];
      return { accepted: res[0] === 1, id: res[1] };
    },
    async get(id) {
      const json = await redis.get(keys.article(id));
      return json ? (JSON.parse(json) as Article) : undefined;
    },
    pending: (limit = 1000) => redis.zrange(keys.pending, 0, limit - 1),
    async clearPending(id) {
      await redis.zrem(keys.pending, id);
    },
    async feedState(url) {
      const h = await redis.hgetall(keys.feed(hash(url)));
      return {
        ...(h.etag ? { etag: h.etag } : {}),
        ...(h.last_modified ? { lastModified: h.last_modified } : {}),
        initialized: h.initialized === "1",
      };
    },
    async saveFeedState(url, state) {
      const key = keys.feed(hash(url));
      const now = Date.now();
      const m = redis.multi();
      if (state.ok) {
        m.hset(key, "url", url, "initialized", "1", "last_ok_at", now, "last_error", "");
        m.hset(key, "etag", state.etag ?? "", "last_modified", state.lastModified ?? "");
      } else {
        m.hset(key, "url", url, "last_error_at", now, "last_error", state.error ?? "unknown");
      }
      await m.exec();
    },
    async stats() {
      const h = await redis.hgetall(keys.stats);
      return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
    },
  };
}
