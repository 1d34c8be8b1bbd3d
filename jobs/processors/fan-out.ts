import type { Logger } from "../../src/logger.ts";
import type { ArticleStore } from "../../src/store/articles.ts";
import type { DeliveryStore } from "../../src/store/deliveries.ts";
import type { Priority } from "../../src/news/article.ts";
import { CHUNK_UIDS, type FanoutData } from "../definitions.ts";

export interface FanoutDeps {
  articles: ArticleStore;
  deliveries: DeliveryStore;
  enqueueChunks: (articleId: string, priority: Priority, chunks: Array<{ chunk: number; fromUid: number }>) => Promise<void>;
  paidBroadcast: boolean;
  logger: Logger;
}

export type FanoutResult =
  | { status: "planned"; audience: number; chunks: number }
  | { status: "skipped"; reason: string };

const POPCOUNT = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let v = i; v; v >>= 1) n += v & 1;
  return n;
});

/** Counts set bits per CHUNK_UIDS-wide slice of the audience bitmap; only non-empty chunks get a job. */
export function planChunks(bitmap: Buffer): Array<{ chunk: number; fromUid: number; count: number }> {
  const bytesPerChunk = CHUNK_UIDS / 8;
  const chunks: Array<{ chunk: number; fromUid: number; count: number }> = [];
  for (let start = 0, chunk = 0; start < bitmap.length; start += bytesPerChunk, chunk++) {
    let count = 0;
    const end = Math.min(start + bytesPerChunk, bitmap.length);
    for (let i = start; i < end; i++) count += POPCOUNT[bitmap[i] ?? 0] ?? 0;
    if (count > 0) chunks.push({ chunk, fromUid: chunk * CHUNK_UIDS, count });
  }
  return chunks;
}

/**
 * Resolves an article's audience inside Redis (one BITOP over topic bitmaps) and queues one
 * delivery job per 4096-subscriber slice. Re-running it after a crash is harmless: the audience
 * snapshot is taken once and chunk jobs have fixed ids.
 */
export async function processFanout(data: FanoutData, deps: FanoutDeps): Promise<FanoutResult> {
  const { articleId } = data;
  const article = await deps.articles.get(articleId);
  if (!article) {
    await deps.articles.clearPending(articleId);
    deps.logger.warn({ articleId }, "fan-out skipped: the article expired or was never stored");
    return { status: "skipped", reason: "article missing" };
  }
  const record = await deps.deliveries.record(articleId);
  if (record && (record.state === "cancelled" || record.state === "done")) {
    await deps.articles.clearPending(articleId);
    return { status: "skipped", reason: record.state };
  }
  await deps.deliveries.snapshotAudience(articleId, article.toAll ? [] : article.topics);
  const bitmap = await deps.deliveries.audienceBitmap(articleId);
  const chunks = planChunks(bitmap);
  const audience = chunks.reduce((n, c) => n + c.count, 0);
  const paid = deps.paidBroadcast && article.paid !== false;
  await deps.deliveries.plan(articleId, { audience, chunks: chunks.length, paid });
  if (chunks.length) {
    await deps.enqueueChunks(articleId, article.priority, chunks);
  } else {
    deps.logger.info({ articleId, topics: article.topics }, "fan-out finished: no active subscriber follows these topics");
  }
  deps.logger.info({ articleId, audience, chunks: chunks.length, priority: article.priority, paid }, "fan-out planned");
  return { status: "planned", audience, chunks: chunks.length };
}
