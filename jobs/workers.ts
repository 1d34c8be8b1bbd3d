import { DelayedError, RateLimitError, WaitingError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "../src/logger.ts";
import { keyPrefix } from "../src/redis.ts";
import { createThrottledReporter } from "../src/log-throttle.ts";
import { PRIORITY, QUEUE, type BroadcastProgressData, type DeliverChunkData, type FanoutData, type PollFeedData } from "./definitions.ts";
import { processBroadcastProgress, type BroadcastProgressDeps } from "./processors/broadcast-progress.ts";
import { processDeliverChunk, type DeliverDeps } from "./processors/deliver.ts";
import { processFanout, type FanoutDeps } from "./processors/fan-out.ts";
import { processPollFeed, type PollFeedDeps } from "./processors/poll-feed.ts";
import type { Queues } from "./queues.ts";

export interface WorkerOptions {
  /** Delivery chunks processed at once by this process. */
  deliveryConcurrency: number;
  /** How often a broadcast's status message is edited. */
  progressIntervalMs?: number;
  /** How long a job's lock lives without renewal; a killed worker's jobs are retried after it. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

export interface Workers {
  close(): Promise<void>;
  /** Aborts in-flight chunks (they re-queue what is left) and closes; for graceful shutdown. */
  drainAndClose(boundMs?: number): Promise<void>;
  all: Worker[];
}

export function createWorkers(deps: {
  connection: Redis;
  prefix: string;
  queues: Queues;
  logger: Logger;
  poll: Omit<PollFeedDeps, "logger">;
  fanout: Omit<FanoutDeps, "logger" | "enqueueChunks">;
  deliver: Omit<DeliverDeps, "logger" | "breakingWaiting">;
  progress: Omit<BroadcastProgressDeps, "logger">;
  options: WorkerOptions;
}): Workers {
  const { logger, queues } = deps;
  const prefix = keyPrefix(deps.prefix);
  const common = {
    connection: deps.connection,
    prefix,
    lockDuration: deps.options.lockDurationMs ?? 30_000,
    stalledInterval: deps.options.stalledIntervalMs ?? 30_000,
    // Crashes are expected and safe to retry (every step is idempotent); don't fail a job for them.
    maxStalledCount: 100,
  };

  const feeds = new Worker<PollFeedData>(
    QUEUE.feeds,
    (job) => processPollFeed(job.data, { ...deps.poll, logger: logger.child({ job: job.id }) }),
    { ...common, concurrency: 4 },
  );

  const fanout = new Worker<FanoutData>(
    QUEUE.fanout,
    (job) =>
      processFanout(job.data, {
        ...deps.fanout,
        enqueueChunks: (id, priority, chunks) => queues.enqueueChunks(id, priority, chunks),
        logger,
      }),
    { ...common, concurrency: 2 },
  );

  // Breaking news is "pending" while any of its chunks waits or runs; normal chunks step aside
  // until then. Cached briefly: every lane of every chunk asks.
  let breakingCache = { at: 0, value: Promise.resolve(false) };
  const breakingWaiting = () => {
    if (Date.now() - breakingCache.at > 250) {
      breakingCache = {
        at: Date.now(),
        value: (async () => {
          const counts = await queues.delivery.getCountsPerPriority([PRIORITY.breaking]);
          if ((counts[PRIORITY.breaking] ?? 0) > 0) return true;
          const active = await queues.delivery.getActive(0, 200);
          return active.some((j) => j.opts.priority === PRIORITY.breaking);
        })().catch(() => false),
      };
    }
    return breakingCache.value;
  };

  const delivery = new Worker<DeliverChunkData>(
    QUEUE.delivery,
    async (job: Job<DeliverChunkData>, token?: string, signal?: AbortSignal) => {
      const result = await processDeliverChunk(job.data, { ...deps.deliver, logger, breakingWaiting }, signal);
      switch (result.status) {
        case "rate-limited":
          // The BullMQ way: stop every worker of the queue for retry_after, re-queue this job
          // without counting an attempt. Settled recipients are skipped when it runs again.
          await queues.delivery.rateLimit(result.ms);
          throw new RateLimitError();
        case "yield":
          if (result.reason === "shutdown") {
            await job.moveToWait(token);
            throw new WaitingError();
          }
          // Back off a moment rather than straight to wait, or a free slot would pick it up again at once.
          await job.moveToDelayed(Date.now() + 1_000, token);
          throw new DelayedError();
        case "outage":
          throw new Error(`Telegram unreachable: ${result.reason}`);
        default:
          return result;
      }
    },
    {
      ...common,
      concurrency: deps.options.deliveryConcurrency,
      // Only here so queue.rateLimit() has a limiter to arm; the real pacing is the Redis GCRA.
      limiter: { max: 1_000_000, duration: 1_000 },
      // After a rate-limit pause the re-queued job leaves no wake-up marker, so an idle worker would
      // sleep a whole drainDelay (5 s by default) before taking it again: keep that wait short.
      drainDelay: 1,
      settings: { backoffStrategy: (attempts: number) => Math.min(1_000 * 2 ** Math.max(0, attempts - 1), 30_000) },
    },
  );

  const progressInterval = deps.options.progressIntervalMs ?? 3_000;
  const progress = new Worker<BroadcastProgressData>(
    QUEUE.progress,
    async (job, token) => {
      const r = await processBroadcastProgress(job.data, { ...deps.progress, logger });
      if (r === "again") {
        // The same job comes back in a few seconds, until the broadcast ends.
        await job.moveToDelayed(Date.now() + progressInterval, token);
        throw new DelayedError();
      }
      return r;
    },
    { ...common, concurrency: 8 },
  );

  const all = [feeds, fanout, delivery, progress] as Worker[];
  const report = createThrottledReporter(logger, "error");
  for (const w of all) {
    w.on("error", (err) => report(`worker:${w.name}:${err.message}`, { reason: err.message, queue: w.name }, "worker error"));
    w.on("failed", (job, err) => {
      if (!job) return;
      const level = job.attemptsMade < (job.opts.attempts ?? 1) ? "warn" : "error";
      logger[level]({ queue: w.name, job: job.id, attempts: job.attemptsMade, reason: err.message }, "job failed");
    });
  }

  return {
    all,
    async close() {
      await Promise.all(all.map((w) => w.close()));
    },
    async drainAndClose(boundMs = 10_000) {
      delivery.cancelAllJobs("shutdown");
      // With Redis down a graceful close can't finish (it must write job states): after the bound,
      // force it. Jobs left active are taken over by another worker once their lock expires.
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), boundMs)));
      const result = await Promise.race([Promise.all(all.map((w) => w.close())).then(() => "closed" as const), bound]);
      clearTimeout(timer);
      if (result === "timeout") {
        // A forced close can hang on a dead connection too: start it, don't wait for it.
        logger.warn({ boundMs }, "workers did not close in time (is Redis down?); leaving their jobs to the lock timeout");
        for (const w of all) void w.close(true).catch(() => undefined);
      }
    },
  };
}
