import type { FeedSource } from "../../src/catalog.ts";
import type { Logger } from "../../src/logger.ts";
import { fetchFeed, type FetchResult } from "../../src/news/fetch-feed.ts";
import type { IngestService } from "../../src/news/ingest.ts";
import { FeedError, parseFeed } from "../../src/news/parse-feed.ts";
import type { ArticleStore } from "../../src/store/articles.ts";
import type { PollFeedData } from "../definitions.ts";

export interface PollFeedDeps {
  feedByUrl: (url: string) => FeedSource | undefined;
  articles: ArticleStore;
  ingest: IngestService;
  limits: { timeoutMs: number; maxBytes: number; maxRedirects: number };
  logger: Logger;
  onPoll?: (result: PollResult["status"], feedUrl: string, seconds: number) => void;
}

export type PollResult =
  | { status: "not-modified" }
  | { status: "ok"; items: number; queued: number; duplicates: number; noTopic: number; seen: number; skipped: number; invalid: number }
  | { status: "error"; code: string; reason: string }
  | { status: "removed" };

/**
 * Polls one feed. A failure is logged with the feed's URL and reason and ends the job quietly:
 * the feed's scheduler tries again at its next tick, and no other feed is affected.
 */
export async function processPollFeed(data: PollFeedData, deps: PollFeedDeps): Promise<PollResult> {
  const started = performance.now();
  const feed = deps.feedByUrl(data.url);
  const log = deps.logger.child({ feed: data.url });
  const done = (r: PollResult) => {
    deps.onPoll?.(r.status, data.url, (performance.now() - started) / 1000);
    return r;
  };
  if (!feed) {
    log.info("feed no longer in the catalog; poll skipped");
    return done({ status: "removed" });
  }
  const state = await deps.articles.feedState(feed.url);
  let fetched: FetchResult;
  try {
    fetched = await fetchFeed(feed.url, {
      ...(state.etag ? { etag: state.etag } : {}),
      ...(state.lastModified ? { lastModified: state.lastModified } : {}),
      ...deps.limits,
    });
  } catch (err) {
    return done(await failed(err));
  }
  if (fetched.status === "not-modified") {
    log.debug("feed not modified");
    return done({ status: "not-modified" });
  }

  let items;
  let skipped = 0;
  try {
    const parsed = parseFeed(fetched.body, fetched.contentType, fetched.finalUrl);
    items = parsed.items;
    skipped = parsed.skipped.length;
    for (const s of parsed.skipped) log.info({ index: s.index, reason: s.reason }, "feed item skipped");
  } catch (err) {
    return done(await failed(err));
  }

  // The first successful poll of a feed only remembers what is already there.
  const seenOnly = !state.initialized;
  const counts = { items: items.length, queued: 0, duplicates: 0, noTopic: 0, seen: 0, skipped, invalid: 0 };
  // Oldest first, so readers get a burst of news in the order it was published.
  for (const item of [...items].reverse()) {
    try {
      const r = await deps.ingest.ingest({
        item,
        source: { kind: "feed", feedUrl: feed.url },
        feedTopics: feed.topics,
        seenOnly,
      });
      if (r.status === "queued") counts.queued++;
      else if (r.status === "duplicate") counts.duplicates++;
      else if (r.status === "no-topic") counts.noTopic++;
      else counts.seen++;
    } catch (err) {
      // One bad item (say, an unusable url) must not cost the rest of the feed.
      counts.invalid++;
      log.warn({ url: item.url, reason: (err as Error).message }, "feed item rejected");
    }
  }
  await deps.articles.saveFeedState(feed.url, {
    ok: true,
    ...(fetched.etag ? { etag: fetched.etag } : {}),
    ...(fetched.lastModified ? { lastModified: fetched.lastModified } : {}),
  });
  log.info({ ...counts, firstPoll: seenOnly }, "feed polled");
  return done({ status: "ok", ...counts });

  async function failed(err: unknown): Promise<PollResult> {
    const code = err instanceof FeedError ? err.code : "error";
    const reason = err instanceof FeedError ? err.reason : (err as Error).message;
    log.warn({ code, reason }, `feed poll failed: ${data.url}: ${reason}`);
    await deps.articles.saveFeedState(feed!.url, { ok: false, error: `${code}: ${reason}` });
    return { status: "error", code, reason };
  }
}
