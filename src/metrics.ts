import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from "prom-client";
import type { Article } from "./news/article.ts";
import type { SendResult } from "./telegram/send.ts";

export interface MetricsDeps {
  /** Created by the composition root, never prom-client's global one, so several apps can live in one process (tests). */
  registry: Registry;
  /** Job counts per queue and state, read at scrape time. */
  queueDepths?: () => Promise<Record<string, Record<string, number>>>;
  /** Process metrics (CPU, memory, event loop lag, GC). */
  defaultMetrics?: boolean;
}

export interface Metrics {
  registry: Registry;
  /** DeliverDeps.onSent: one call per send attempt. */
  onSent(result: SendResult, article: Article): void;
  /** PollFeedDeps.onPoll: one call per feed poll. */
  onPoll(result: string, feedUrl: string, seconds: number): void;
  /** A webhook request without the right secret token. */
  webhookRejected(): void;
}

/** A short, bounded label from a SendResult reason: "403: Forbidden: …" → "403", "network: …" → "network". */
function codeOf(reason: string): string {
  const head = /^([\w-]{1,16}):/.exec(reason)?.[1];
  return head ?? "other";
}

// Seconds from ingest to a reader's chat: breaking news should land in seconds, a big fan-out in minutes.
const LATENCY_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200];
const POLL_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30];

export function createMetrics(deps: MetricsDeps): Metrics {
  const registers = [deps.registry];
  if (deps.defaultMetrics !== false) collectDefaultMetrics({ register: deps.registry });

  const sent = new Counter({
    name: "newsbot_messages_sent_total",
    help: "Articles delivered to a chat (Telegram accepted the message)",
    labelNames: ["priority"] as const,
    registers,
  });
  const failed = new Counter({
    name: "newsbot_messages_failed_total",
    help: "Send attempts that delivered nothing, by reason: unreachable and rejected are final, transient and rate_limited are retried; code is the HTTP status or 'network'",
    labelNames: ["reason", "code"] as const,
    registers,
  });
  const tooMany = new Counter({
    name: "newsbot_telegram_429_total",
    help: "429 Too Many Requests answers received from Telegram while delivering",
    registers,
  });
  const latency = new Histogram({
    name: "newsbot_delivery_latency_seconds",
    help: "Time from an article's ingest to its delivery to one chat",
    labelNames: ["priority"] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const polls = new Counter({
    name: "newsbot_feed_polls_total",
    help: "Feed polls by feed and result (ok, not-modified, error, removed)",
    labelNames: ["feed", "result"] as const,
    registers,
  });
  const pollSeconds = new Histogram({
    name: "newsbot_feed_poll_duration_seconds",
    help: "Time one feed poll took (fetch, parse, ingest)",
    labelNames: ["result"] as const,
    buckets: POLL_BUCKETS,
    registers,
  });
  const webhookRejected = new Counter({
    name: "newsbot_webhook_rejected_total",
    help: "Webhook requests refused for a missing or wrong X-Telegram-Bot-Api-Secret-Token",
    registers,
  });

  const depths = deps.queueDepths;
  if (depths) {
    new Gauge({
      name: "newsbot_queue_jobs",
      help: "Jobs per queue and state, read from Redis at scrape time",
      labelNames: ["queue", "state"] as const,
      registers,
      async collect() {
        // A scrape must answer even when Redis does not: report nothing for this scrape rather than hang.
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 2_000)));
        const counts = await Promise.race([depths().catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
        this.reset();
        for (const [queue, states] of Object.entries(counts ?? {})) {
          for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n);
        }
      },
    });
  }

  return {
    registry: deps.registry,
    onSent(result, article) {
      switch (result.kind) {
        case "sent":
          sent.inc({ priority: article.priority });
          latency.observe({ priority: article.priority }, Math.max(0, Date.now() - article.ingestedAt) / 1000);
          break;
        case "rate-limited":
          tooMany.inc();
          failed.inc({ reason: "rate_limited", code: "429" });
          break;
        default:
          failed.inc({ reason: result.kind, code: codeOf(result.reason) });
      }
    },
    onPoll(result, feedUrl, seconds) {
      polls.inc({ feed: feedUrl, result });
      pollSeconds.observe({ result }, seconds);
    },
    webhookRejected() {
      webhookRejected.inc();
    },
  };
}
