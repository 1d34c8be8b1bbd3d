import type { Queue } from "bullmq";
import type { FeedSource } from "../src/catalog.ts";
import type { Logger } from "../src/logger.ts";
import { JOB, feedSchedulerId, type PollFeedData } from "./definitions.ts";

/**
 * Makes the feed queue's job schedulers match the catalog: one per feed at its own interval,
 * stale ones removed. Schedulers live in Redis, so however many processes run, each feed is
 * polled once per interval.
 */
export async function syncFeedSchedulers(
  queue: Queue<PollFeedData>,
  feeds: FeedSource[],
  logger: Logger,
): Promise<{ upserted: number; removed: number }> {
  const wanted = new Map(feeds.map((f) => [feedSchedulerId(f.url), f]));
  let removed = 0;
  for (const s of await queue.getJobSchedulers(0, -1)) {
    if (!wanted.has(s.key)) {
      await queue.removeJobScheduler(s.key);
      removed++;
      logger.info({ scheduler: s.key }, "feed scheduler removed (no longer in the catalog)");
    }
  }
  for (const [id, feed] of wanted) {
    // upsert is idempotent: an unchanged feed keeps its schedule, a changed interval replaces it.
    await queue.upsertJobScheduler(id, { every: feed.everyMs }, { name: JOB.pollFeed, data: { url: feed.url } });
  }
  logger.info({ feeds: wanted.size, removed }, "feed schedulers in sync with the catalog");
  return { upserted: wanted.size, removed };
}
