import type { Api } from "grammy";
import type { Logger } from "../../src/logger.ts";
import type { Article } from "../../src/news/article.ts";
import type { OutgoingMessage } from "../../src/news/format.ts";
import type { ArticleStore } from "../../src/store/articles.ts";
import type { DeliveryRecord, DeliveryStore } from "../../src/store/deliveries.ts";
import type { SubscriberStore } from "../../src/store/subscribers.ts";
import { sendOutgoing, type SendResult } from "../../src/telegram/send.ts";
import type { DeliverChunkData } from "../definitions.ts";

export interface DeliverDeps {
  api: Api;
  articles: ArticleStore;
  deliveries: DeliveryStore;
  subscribers: SubscriberStore;
  /** The message for one language, and its text-only fallback for a refused photo. */
  render: (article: Article, lang: string) => { message: OutgoingMessage; fallback: OutgoingMessage };
  logger: Logger;
  /** Sends in flight at once within one chunk. */
  lanes: number;
  /** Transient failures of one recipient before it is recorded as failed. */
  maxAttempts: number;
  retryBaseMs: number;
  /** Consecutive transient failures across the chunk that mean "Telegram is down": back off the whole job. */
  outageThreshold: number;
  /** True when breaking news is waiting and a normal chunk should step aside. */
  breakingWaiting: () => Promise<boolean>;
  onSent?: (result: SendResult, article: Article) => void;
  onFinished?: (record: DeliveryRecord) => void;
  now?: () => number;
}

export type DeliverResult =
  | { status: "done"; sent: number; blocked: number; failed: number; finishedFanout: boolean }
  | { status: "cancelled" }
  /** Telegram said 429: the caller pauses the queue for `ms` and re-queues the job. */
  | { status: "rate-limited"; ms: number }
  /** Step aside (breaking news waiting, or shutdown): the caller re-queues the job untouched. */
  | { status: "yield"; reason: "breaking" | "shutdown" }
  /** Every recent send failed transiently: the caller retries the job with backoff. */
  | { status: "outage"; reason: string }
  /** A newer run of this job owns the chunk (this run's lock expired while it was alive): touch nothing. */
  | { status: "superseded" };

interface Pending {
  uid: number;
  chatId: number;
  lang: string;
  attempts: number;
  notBefore: number;
}

/** A send more than this late for its slot is not made (see the lane loop). */
const LATE_SLOT_MS = 100;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

/**
 * Delivers one slice of a fan-out. Every send first takes a global slot from the Redis limiter
 * (shared by all processes), and every outcome is settled in the done bitmap right after the
 * answer, so a re-run of this job (crash, 429, yield) only reaches recipients still owed.
 */
export async function processDeliverChunk(
  data: DeliverChunkData,
  deps: DeliverDeps,
  signal?: AbortSignal,
): Promise<DeliverResult> {
  const now = deps.now ?? Date.now;
  const { articleId } = data;
  const log = deps.logger.child({ articleId, chunk: data.chunk });

  const article = await deps.articles.get(articleId);
  if (!article) {
    log.warn("chunk skipped: the article is gone");
    await deps.deliveries.finishChunk(articleId, data.chunk);
    return { status: "done", sent: 0, blocked: 0, failed: 0, finishedFanout: false };
  }
  // Claimed before reading who is owed: an older run still alive gets no slot from here on.
  const run = await deps.deliveries.claimChunk(articleId, data.chunk);
  const { recipients } = await deps.deliveries.recipients(articleId, data.fromUid, data.toUid);
  const paid = (await deps.deliveries.record(articleId))?.paid ?? false;
  const rendered = new Map<string, { message: OutgoingMessage; fallback: OutgoingMessage }>();
  const renderFor = (lang: string) => {
    let r = rendered.get(lang);
    if (!r) {
      r = deps.render(article, lang);
      rendered.set(lang, r);
    }
    return r;
  };

  const queue: Pending[] = recipients.map((r) => ({ ...r, attempts: 0, notBefore: 0 }));
  let stop: DeliverResult | undefined;
  // Wakes every lane that sleeps towards a slot as soon as one lane decides to stop (a 429 must
  // not wait out the slots the other lanes had reserved before the pause even starts).
  const halted = new AbortController();
  const halt = (result: DeliverResult) => {
    stop ??= result;
    halted.abort();
  };
  signal?.addEventListener("abort", () => halted.abort(), { once: true });
  let consecutiveTransient = 0;
  let lastYieldCheck = 0;
  const counts = { sent: 0, blocked: 0, failed: 0 };
  const isNormal = article.priority !== "breaking";

  const next = (): Pending | undefined => {
    // Ready items first; otherwise the one that becomes ready soonest (the lane sleeps until then).
    let best = -1;
    for (let i = 0; i < queue.length; i++) {
      const p = queue[i];
      if (!p) continue;
      if (p.notBefore <= now()) {
        best = i;
        break;
      }
      if (best < 0 || p.notBefore < (queue[best]?.notBefore ?? Infinity)) best = i;
    }
    return best < 0 ? undefined : queue.splice(best, 1)[0];
  };

  const lane = async () => {
    while (!stop) {
      if (signal?.aborted) {
        halt({ status: "yield", reason: "shutdown" });
        break;
      }
      if (isNormal && now() - lastYieldCheck > 500) {
        lastYieldCheck = now();
        if (await deps.breakingWaiting()) {
          halt({ status: "yield", reason: "breaking" });
          break;
        }
      }
      const p = next();
      if (!p) break;
      if (p.notBefore > now()) {
        await sleep(p.notBefore - now(), halted.signal);
        if (stop || signal?.aborted) {
          queue.push(p);
          continue;
        }
      }
      const slot = await deps.deliveries.acquireSlot(articleId, p.chatId, paid, run);
      if (slot.kind === "superseded") {
        halt({ status: "superseded" });
        break;
      }
      if (slot.kind === "cancelled") {
        halt({ status: "cancelled" });
        break;
      }
      if (slot.kind === "chat-busy") {
        // Another article just reached this chat: keep ~1 message/s per chat.
        p.notBefore = now() + slot.waitMs;
        queue.push(p);
        continue;
      }
      const slotAt = now() + slot.waitMs;
      await sleep(slot.waitMs, halted.signal);
      if (stop) {
        queue.push(p);
        break;
      }
      if (now() - slotAt > LATE_SLOT_MS) {
        // This process stalled past its slot (GC, CPU starvation). Sending now would bunch up with
        // the slots after it and break the per-second limit: give the slot up and take a new one.
        queue.unshift(p);
        continue;
      }
      const { message, fallback } = renderFor(p.lang);
      const result = await sendOutgoing(deps.api, p.chatId, message, () => fallback, { paid });
      deps.onSent?.(result, article);
      switch (result.kind) {
        case "sent":
          consecutiveTransient = 0;
          if (await deps.deliveries.settle(articleId, p.uid, "sent")) counts.sent++;
          break;
        case "unreachable":
          consecutiveTransient = 0;
          if (await deps.deliveries.settle(articleId, p.uid, "blocked")) counts.blocked++;
          await deps.subscribers.setStatus(p.chatId, "blocked");
          log.info({ chatId: p.chatId, reason: result.reason }, "recipient unreachable; subscriber deactivated");
          break;
        case "rejected":
          consecutiveTransient = 0;
          if (await deps.deliveries.settle(articleId, p.uid, "failed", result.reason)) counts.failed++;
          log.warn({ chatId: p.chatId, reason: result.reason }, "Telegram rejected the message");
          break;
        case "rate-limited":
          queue.push(p);
          await deps.deliveries.pauseSending(result.retryAfterMs);
          halt({ status: "rate-limited", ms: result.retryAfterMs });
          break;
        case "transient":
          consecutiveTransient++;
          p.attempts++;
          if (consecutiveTransient >= deps.outageThreshold) {
            queue.push(p);
            halt({ status: "outage", reason: result.reason });
          } else if (p.attempts >= deps.maxAttempts) {
            if (await deps.deliveries.settle(articleId, p.uid, "failed", result.reason)) counts.failed++;
            log.warn({ chatId: p.chatId, reason: result.reason, attempts: p.attempts }, "delivery failed after retries");
          } else {
            p.notBefore = now() + deps.retryBaseMs * 2 ** (p.attempts - 1);
            queue.push(p);
          }
          break;
      }
    }
  };

  await Promise.all(Array.from({ length: Math.max(1, Math.min(deps.lanes, queue.length)) }, lane));

  if (stop && stop.status !== "cancelled") {
    if (stop.status === "rate-limited") log.warn({ retryAfterMs: stop.ms }, "Telegram rate limit hit; delivery paused");
    if (stop.status === "superseded") log.warn({ ...counts }, "chunk taken over by a newer run (this run's job lock expired); this run stops");
    return stop;
  }
  const finishedFanout = await deps.deliveries.finishChunk(articleId, data.chunk);
  log.info({ ...counts, recipients: recipients.length }, "chunk delivered");
  if (finishedFanout) {
    await deps.deliveries.release(articleId);
    const record = await deps.deliveries.record(articleId);
    if (record) {
      log.info(
        {
          state: record.state,
          audience: record.audience,
          sent: record.sent,
          blocked: record.blocked,
          failed: record.failed,
          failures: record.failures,
          queuedAt: record.queuedAt,
          startedAt: record.startedAt,
          finishedAt: record.finishedAt,
        },
        "fan-out finished",
      );
      deps.onFinished?.(record);
    }
  }
  if (stop?.status === "cancelled") return stop;
  return { status: "done", ...counts, finishedFanout };
}
