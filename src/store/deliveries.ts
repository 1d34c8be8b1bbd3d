import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { hourOf, type Keys } from "./keys.ts";
import { runScript } from "./scripts.ts";

export type DeliveryState = "queued" | "sending" | "cancelling" | "cancelled" | "done" | "no_topic";
export type Outcome = "sent" | "blocked" | "failed";

export interface DeliveryRecord {
  articleId: string;
  state: DeliveryState;
  priority: string;
  paid: boolean;
  audience: number;
  chunks: number;
  sent: number;
  blocked: number;
  failed: number;
  queuedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  failures: Record<string, number>;
}

/** A slice of one fan-out: the recipients between two uids that are still owed the article. */
export interface ChunkRecipients {
  recipients: Array<{ uid: number; chatId: number; lang: "en" | "ru" }>;
}

export type SlotAnswer =
  | { kind: "slot"; waitMs: number }
  | { kind: "chat-busy"; waitMs: number }
  | { kind: "cancelled" }
  /** A newer run of the same chunk has claimed it (see claimChunk): this run must stop sending. */
  | { kind: "superseded" };

/** The run of a chunk that asks for a slot: only the latest claimant gets slots. */
export interface ChunkRun {
  chunk: number;
  token: string;
}

export interface DeliveryStore {
  snapshotAudience(articleId: string, topics: string[]): Promise<void>;
  /** The frozen audience bitmap (bit uid = recipient). */
  audienceBitmap(articleId: string): Promise<Buffer>;
  plan(articleId: string, plan: { audience: number; chunks: number; paid: boolean }): Promise<void>;
  recipients(articleId: string, fromUid: number, toUid: number): Promise<ChunkRecipients>;
  /**
   * Makes the caller the one run allowed to send for this chunk. A job whose lock expired while its
   * process was still alive (a long pause, Redis down longer than the lock) is run again elsewhere;
   * the older run is then refused slots instead of sending to everybody a second time.
   */
  claimChunk(articleId: string, chunk: number): Promise<ChunkRun>;
  acquireSlot(articleId: string, chatId: number, paid: boolean, run?: ChunkRun): Promise<SlotAnswer>;
  pauseSending(ms: number): Promise<void>;
  settle(articleId: string, uid: number, outcome: Outcome, reason?: string): Promise<boolean>;
  /** True for exactly one caller: the one that finished the last chunk. */
  finishChunk(articleId: string, chunk: number): Promise<boolean>;
  record(articleId: string): Promise<DeliveryRecord | undefined>;
  /** Stops a queued or running delivery; returns false when it already ended. */
  cancel(articleId: string): Promise<boolean>;
  isCancelled(articleId: string): Promise<boolean>;
  /** Drops the bitmaps of a finished fan-out (the record itself stays for reports). */
  release(articleId: string): Promise<void>;
}

export interface RateOptions {
  /** Global messages/s for ordinary sends (Infinity: no limit, for raw-capacity benchmarks). */
  rate: number;
  /** Global messages/s for paid broadcasts. */
  paidRate: number;
  /** Minimum spacing between two messages to one chat (ms). */
  perChatMs: number;
}

const num = (v: string | undefined) => (v ? Number(v) : undefined);
/** Field of the delivery record holding the token of a chunk's current run. */
const runField = (chunk: number) => `run:${chunk}`;

export function createDeliveryStore(deps: { redis: Redis; keys: Keys; rates: RateOptions; recordTtlSeconds: number }): DeliveryStore {
  const { redis, keys, rates } = deps;
  const interval = (rate: number) => (Number.isFinite(rate) ? Math.round(1_000_000 / rate) : 0);
  const intervalNormal = interval(rates.rate);
  const intervalPaid = interval(rates.paidRate);

  return {
    async snapshotAudience(articleId, topics) {
      await runScript(
        redis,
        "snapshot-audience",
        [keys.audience(articleId), keys.active, ...topics.map((t) => keys.topic(t))],
        [],
      );
    },
    async audienceBitmap(articleId) {
      return (await redis.getBuffer(keys.audience(articleId))) ?? Buffer.alloc(0);
    },
    async plan(articleId, p) {
      const now = Date.now();
      await redis
        .multi()
        .hset(keys.delivery(articleId), "audience", p.audience, "chunks", p.chunks, "paid", p.paid ? 1 : 0)
        // A fan-out cancelled while queued stays cancelled; one with nobody to reach is done at once.
        .eval(
          `if redis.call('HGET', KEYS[1], 'state') == 'queued' then
             if ARGV[1] == '0' then redis.call('HSET', KEYS[1], 'state', 'done', 'finished_at', ARGV[2])
             else redis.call('HSET', KEYS[1], 'state', 'sending') end
           end return 1`,
          1,
          keys.delivery(articleId),
          p.chunks,
          now,
        )
        .zadd(keys.recentDeliveries, now, articleId)
        .zremrangebyrank(keys.recentDeliveries, 0, -1001)
        .zrem(keys.pending, articleId)
        .exec();
    },
    async recipients(articleId, fromUid, toUid) {
      // Bitmaps are read by whole bytes; chunk bounds are multiples of 8 so no bit is shared.
      const fromByte = Math.floor(fromUid / 8);
      const toByte = Math.ceil(toUid / 8) - 1;
      const [aud, done, active, ru, map] = await Promise.all([
        redis.getrangeBuffer(keys.audience(articleId), fromByte, toByte),
        redis.getrangeBuffer(keys.done(articleId), fromByte, toByte),
        redis.getrangeBuffer(keys.active, fromByte, toByte),
        redis.getrangeBuffer(keys.langRu, fromByte, toByte),
        redis.getrangeBuffer(keys.uidMap, fromUid * 8, toUid * 8 - 1),
      ]);
      const recipients: ChunkRecipients["recipients"] = [];
      for (let i = 0; i < aud.length; i++) {
        // Still owed = in the audience, still active (a /stop or block since counts), not yet settled.
        let bits = (aud[i] ?? 0) & (active[i] ?? 0) & ~(done[i] ?? 0) & 0xff;
        if (!bits) continue;
        for (let b = 0; b < 8; b++) {
          if (bits & (0x80 >> b)) {
            const uid = (fromByte + i) * 8 + b;
            const off = (uid - fromUid) * 8;
            if (uid >= fromUid && uid < toUid && off + 8 <= map.length) {
              const lang = (ru[i] ?? 0) & (0x80 >> b) ? "ru" : "en";
              recipients.push({ uid, chatId: map.readDoubleLE(off), lang });
            }
            bits &= ~(0x80 >> b);
          }
        }
      }
      return { recipients };
    },
    async claimChunk(articleId, chunk) {
      const run = { chunk, token: randomBytes(8).toString("hex") };
      // Only on an existing record: a field must not create a hash without its TTL.
      await redis.eval(
        `if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 1`,
        1,
        keys.delivery(articleId),
        runField(chunk),
        run.token,
      );
      return run;
    },
    async acquireSlot(articleId, chatId, paid, run) {
      const [kind, ms] = (await runScript(
        redis,
        "acquire-slot",
        [keys.limiter(paid ? "paid" : "normal"), keys.chatCooldown(chatId), keys.delivery(articleId)],
        [paid ? intervalPaid : intervalNormal, rates.perChatMs, run ? runField(run.chunk) : "", run?.token ?? ""],
      )) as [number, number];
      if (kind === 3) return { kind: "superseded" };
      if (kind === 2) return { kind: "cancelled" };
      if (kind === 1) return { kind: "chat-busy", waitMs: ms };
      return { kind: "slot", waitMs: ms };
    },
    async pauseSending(ms) {
      await Promise.all([
        runScript(redis, "pause-sending", [keys.limiter("normal")], [ms]),
        runScript(redis, "pause-sending", [keys.limiter("paid")], [ms]),
      ]);
    },
    async settle(articleId, uid, outcome, reason = "") {
      const hour = hourOf(Date.now());
      const res = await runScript(
        redis,
        "settle-recipient",
        [keys.done(articleId), keys.delivery(articleId), keys.failures(articleId), keys.hourly(hour), keys.hourlyFailures(hour)],
        [uid, outcome, reason, Date.now()],
      );
      return res === 1;
    },
    async finishChunk(articleId, chunk) {
      const res = await runScript(
        redis,
        "finish-chunk",
        [keys.delivery(articleId), keys.chunksDone(articleId)],
        [chunk, Date.now()],
      );
      return res === 1;
    },
    async record(articleId) {
      const [h, failures] = await Promise.all([
        redis.hgetall(keys.delivery(articleId)),
        redis.hgetall(keys.failures(articleId)),
      ]);
      if (!h.state) return undefined;
      const rec: DeliveryRecord = {
        articleId,
        state: h.state as DeliveryState,
        priority: h.priority ?? "normal",
        paid: h.paid === "1",
        audience: Number(h.audience ?? 0),
        chunks: Number(h.chunks ?? 0),
        sent: Number(h.sent ?? 0),
        blocked: Number(h.blocked ?? 0),
        failed: Number(h.failed ?? 0),
        failures: Object.fromEntries(Object.entries(failures).map(([k, v]) => [k, Number(v)])),
      };
      const q = num(h.queued_at);
      const s = num(h.started_at);
      const f = num(h.finished_at);
      if (q !== undefined) rec.queuedAt = q;
      if (s !== undefined) rec.startedAt = s;
      if (f !== undefined) rec.finishedAt = f;
      return rec;
    },
    async cancel(articleId) {
      const res = await redis.eval(
        `local s = redis.call('HGET', KEYS[1], 'state')
         if s == 'queued' then redis.call('HSET', KEYS[1], 'state', 'cancelled', 'finished_at', ARGV[1]) return 1 end
         if s == 'sending' then redis.call('HSET', KEYS[1], 'state', 'cancelling') return 1 end
         return 0`,
        1,
        keys.delivery(articleId),
        Date.now(),
      );
      return res === 1;
    },
    async isCancelled(articleId) {
      const s = await redis.hget(keys.delivery(articleId), "state");
      return s === "cancelling" || s === "cancelled";
    },
    async release(articleId) {
      await redis
        .multi()
        .expire(keys.audience(articleId), 3600)
        .expire(keys.done(articleId), 3600)
        .expire(keys.chunksDone(articleId), deps.recordTtlSeconds)
        .expire(keys.failures(articleId), deps.recordTtlSeconds)
        .expire(keys.delivery(articleId), deps.recordTtlSeconds)
        .exec();
    },
  };
}
