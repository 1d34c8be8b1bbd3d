import type { DefaultJobOptions } from "bullmq";

/** Queue names; with the `{prefix}` hash tag as BullMQ prefix they live in the app's Redis slot. */
export const QUEUE = {
  feeds: "feeds",
  fanout: "fanout",
  delivery: "delivery",
  progress: "progress",
} as const;

export const JOB = {
  pollFeed: "poll-feed",
  fanout: "fanout",
  deliverChunk: "deliver-chunk",
  broadcastProgress: "broadcast-progress",
} as const;

/** Job data carries ids, never article bodies: the article lives once, in the store. */
export interface PollFeedData {
  url: string;
}

export interface FanoutData {
  articleId: string;
}

export interface DeliverChunkData {
  articleId: string;
  chunk: number;
  /** Subscriber index range [fromUid, toUid) of this chunk. */
  fromUid: number;
  toUid: number;
}

export interface BroadcastProgressData {
  articleId: string;
}

/** Subscribers per delivery job: 4096 bits = 512 bytes of each bitmap, ~2.7 min at 25 msg/s. */
export const CHUNK_UIDS = 4096;

/** BullMQ priorities: lower runs first. Breaking news overtakes everything still queued. */
export const PRIORITY = { breaking: 1, normal: 10 } as const;

export const fanoutJobId = (articleId: string) => `fanout-${articleId}`;
export const chunkJobId = (articleId: string, chunk: number) => `dlv-${articleId}-${chunk}`;
export const progressJobId = (articleId: string) => `progress-${articleId}`;
export const feedSchedulerId = (url: string) => `feed:${url}`;

export const DEFAULT_JOB_OPTIONS: Record<keyof typeof QUEUE, DefaultJobOptions> = {
  feeds: {
    // A failing feed is retried by its own schedule, not by piling up retries.
    attempts: 1,
    removeOnComplete: { count: 100 },
    removeOnFail: { count: 500 },
  },
  fanout: {
    attempts: 10,
    backoff: { type: "exponential", delay: 1_000 },
    removeOnComplete: { age: 86_400, count: 10_000 },
    removeOnFail: { age: 7 * 86_400 },
  },
  progress: {
    // A failed edit (Telegram down) is retried; the job ends when the broadcast does.
    attempts: 30,
    backoff: { type: "exponential", delay: 2_000 },
    removeOnComplete: { age: 3_600 },
    removeOnFail: { age: 86_400 },
  },
  delivery: {
    // Retries are safe (the done bitmap skips settled recipients), so be generous: a Redis or
    // network outage must delay a fan-out, never drop it.
    attempts: 50,
    // "custom": the delivery worker's backoffStrategy (exponential, capped at 30 s).
    backoff: { type: "custom" },
    // Completed chunk jobs are kept a day so a re-run fan-out can't re-add them under the same id.
    removeOnComplete: { age: 86_400 },
    removeOnFail: { age: 7 * 86_400 },
  },
};
