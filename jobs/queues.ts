import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "../src/logger.ts";
import { keyPrefix } from "../src/redis.ts";
import { createThrottledReporter } from "../src/log-throttle.ts";
import {
  CHUNK_UIDS,
  DEFAULT_JOB_OPTIONS,
  JOB,
  PRIORITY,
  QUEUE,
  chunkJobId,
  fanoutJobId,
  progressJobId,
  type BroadcastProgressData,
  type DeliverChunkData,
  type FanoutData,
  type PollFeedData,
} from "./definitions.ts";
import type { Priority } from "../src/news/article.ts";

export interface Queues {
  feeds: Queue<PollFeedData>;
  fanout: Queue<FanoutData>;
  delivery: Queue<DeliverChunkData>;
  progress: Queue<BroadcastProgressData>;
  /** Starts the live status display of a broadcast (idempotent). */
  enqueueProgress(articleId: string): Promise<void>;
  /** The jobs layer's one entry point for the rest of the app: start a fan-out (idempotent). */
  enqueueFanout(articleId: string, priority: Priority): Promise<void>;
  enqueueChunks(articleId: string, priority: Priority, chunks: Array<{ chunk: number; fromUid: number }>): Promise<void>;
  depths(): Promise<Record<string, Record<string, number>>>;
  close(): Promise<void>;
}

export function createQueues(deps: { connection: Redis; prefix: string; logger: Logger }): Queues {
  const prefix = keyPrefix(deps.prefix);
  const report = createThrottledReporter(deps.logger, "error");
  const make = <T>(name: keyof typeof QUEUE) => {
    const q = new Queue<T>(QUEUE[name], {
      connection: deps.connection,
      prefix,
      defaultJobOptions: DEFAULT_JOB_OPTIONS[name],
    });
    q.on("error", (err) => report(`queue:${name}:${err.message}`, { reason: err.message, queue: name }, "queue error"));
    return q;
  };
  const feeds = make<PollFeedData>("feeds");
  const fanout = make<FanoutData>("fanout");
  const delivery = make<DeliverChunkData>("delivery");
  const progress = make<BroadcastProgressData>("progress");

  return {
    feeds,
    fanout,
    delivery,
    progress,
    async enqueueProgress(articleId) {
      await progress.add(JOB.broadcastProgress, { articleId }, { jobId: progressJobId(articleId) });
    },
    async enqueueFanout(articleId, priority) {
      await fanout.add(JOB.fanout, { articleId }, { jobId: fanoutJobId(articleId), priority: PRIORITY[priority] });
    },
    async enqueueChunks(articleId, priority, chunks) {
      // addBulk in slices: one round trip per slice, and a huge fan-out never builds one giant MULTI.
      for (let i = 0; i < chunks.length; i += 500) {
        await delivery.addBulk(
          chunks.slice(i, i + 500).map(({ chunk, fromUid }) => ({
            name: JOB.deliverChunk,
            data: { articleId, chunk, fromUid, toUid: fromUid + CHUNK_UIDS },
            opts: { jobId: chunkJobId(articleId, chunk), priority: PRIORITY[priority] },
          })),
        );
      }
    },
    async depths() {
      const entries = await Promise.all(
        [feeds, fanout, delivery, progress].map(async (q) => [q.name, await q.getJobCounts("wait", "prioritized", "active", "delayed", "failed")] as const),
      );
      return Object.fromEntries(entries);
    },
    async close() {
      await Promise.all([feeds.close(), fanout.close(), delivery.close(), progress.close()]);
    },
  };
}
