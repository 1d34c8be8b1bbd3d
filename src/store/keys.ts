import { keyPrefix } from "../redis.ts";

/**
 * Every Redis key the app owns, in one place (the README's data model section mirrors this).
 * All share the `{prefix}` hash tag so multi-key scripts work on a Redis Cluster.
 */
export function createKeys(prefix: string) {
  const p = keyPrefix(prefix);
  return {
    prefix: p,
    /** HASH chat_id, uid, lang, status, topics (csv), joined_at, updated_at */
    subscriber: (chatId: number | string) => `${p}:sub:${chatId}`,
    /** STRING counter: next dense subscriber index (uid) */
    uidNext: `${p}:uid:next`,
    /** STRING: 8 bytes per uid, the chat id as a little-endian double (uid -> chat id in O(1)) */
    uidMap: `${p}:uidmap`,
    /** BITMAP bit uid = subscriber is active (subscribed, not blocked) */
    active: `${p}:active`,
    /** BITMAP bit uid = subscriber blocked the bot (or the chat is gone) */
    blocked: `${p}:blocked`,
    /** BITMAP bit uid = subscriber reads Russian (the other interface language is English) */
    langRu: `${p}:lang:ru`,
    /** BITMAP bit uid = subscriber chose this topic (kept while inactive, so /start restores it) */
    topic: (topicId: string) => `${p}:topic:${topicId}`,
    /** STRING article id, with TTL: this normalised url/guid was seen */
    seen: (hash: string) => `${p}:seen:${hash}`,
    /** STRING article JSON, with TTL */
    article: (id: string) => `${p}:art:${id}`,
    /** ZSET article id -> ingest time: accepted but not yet fanned out (re-enqueued at start-up) */
    pending: `${p}:pending`,
    /** HASH delivery record: state, priority, paid, audience, chunks, sent, blocked, failed, *_at */
    delivery: (id: string) => `${p}:dl:${id}`,
    /** SET of finished chunk numbers of a fan-out */
    chunksDone: (id: string) => `${p}:dl:${id}:chunks`,
    /** HASH failure reason -> count */
    failures: (id: string) => `${p}:dl:${id}:fail`,
    /** BITMAP audience snapshot: bit uid = recipient of this article */
    audience: (id: string) => `${p}:dl:${id}:aud`,
    /** BITMAP bit uid = this recipient's delivery is settled (sent, blocked or failed) */
    done: (id: string) => `${p}:dl:${id}:done`,
    /** ZSET article id -> queued time, most recent deliveries (for /broadcasts and stats) */
    recentDeliveries: `${p}:dl:recent`,
    /** STRING: theoretical arrival time (µs) of the next global send slot (GCRA) */
    limiter: (kind: "normal" | "paid") => `${p}:rl:${kind}`,
    /** STRING with PX TTL: this chat got a message less than a second ago */
    chatCooldown: (chatId: number) => `${p}:rl:chat:${chatId}`,
    /** HASH feed state: etag, last_modified, initialized, last_ok_at, last_error */
    feed: (urlHash: string) => `${p}:feed:${urlHash}`,
    /** HASH counters: articles, no_topic, duplicates ... */
    stats: `${p}:stats`,
    /** HASH per hour (TTL 48 h): articles, sent, blocked, failed — /stats sums the last 24 */
    hourly: (hour: number) => `${p}:stats:h:${hour}`,
    /** HASH per hour (TTL 48 h): failure reason -> count */
    hourlyFailures: (hour: number) => `${p}:stats:hf:${hour}`,
    /** HASH broadcast: admin chat, status message, audience description, created_at */
    broadcast: (id: string) => `${p}:bc:${id}`,
    /** ZSET broadcast id -> created time */
    broadcasts: `${p}:bc:recent`,
  };
}

/** The hour bucket used by the hourly counters. */
export const hourOf = (ms: number) => Math.floor(ms / 3_600_000);

export type Keys = ReturnType<typeof createKeys>;
