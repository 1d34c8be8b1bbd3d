import type { Redis } from "ioredis";
import type { Keys } from "./keys.ts";
import { runScript } from "./scripts.ts";

export type SubscriberStatus = "active" | "stopped" | "blocked";

export interface Subscriber {
  chatId: number;
  uid: number;
  lang: string;
  status: SubscriberStatus;
  topics: string[];
  joinedAt: number;
}

export interface SubscriberStore {
  get(chatId: number): Promise<Subscriber | undefined>;
  /** Subscribes (or reactivates) a chat; returns the record and whether it was new. */
  subscribe(chatId: number, lang: string): Promise<{ subscriber: Subscriber; created: boolean }>;
  setStatus(chatId: number, status: SubscriberStatus): Promise<boolean>;
  setLanguage(chatId: number, lang: string): Promise<void>;
  setTopics(chatId: number, topics: string[]): Promise<string[] | undefined>;
  toggleTopic(chatId: number, topic: string): Promise<string[] | undefined>;
  /** Selects every topic, or clears them all when all were already selected. */
  toggleAllTopics(chatId: number): Promise<string[] | undefined>;
  /** Active subscribers of any of `topics` (all topics when empty), counted inside Redis. */
  countAudience(topics: string[]): Promise<number>;
  counts(): Promise<{ total: number; active: number; blocked: number }>;
}

export function createSubscriberStore(deps: { redis: Redis; keys: Keys; topicIds: () => string[] }): SubscriberStore {
  const { redis, keys } = deps;

  const parse = (h: Record<string, string>): Subscriber | undefined => {
    if (!h.uid || !h.chat_id) return undefined;
    return {
      chatId: Number(h.chat_id),
      uid: Number(h.uid),
      lang: h.lang || "en",
      status: (h.status as SubscriberStatus) || "active",
      topics: h.topics ? h.topics.split(",") : [],
      joinedAt: Number(h.joined_at ?? 0),
    };
  };

  const get = async (chatId: number) => parse(await redis.hgetall(keys.subscriber(chatId)));

  const changeTopics = async (chatId: number, mode: "set" | "toggle" | "all", arg: string) => {
    const ids = deps.topicIds();
    const result = await runScript(
      redis,
      "set-topics",
      [keys.subscriber(chatId), ...ids.map((id) => keys.topic(id))],
      [Date.now(), ...ids, mode, arg],
    );
    if (typeof result !== "string") return undefined;
    return result ? result.split(",") : [];
  };

  return {
    get,
    async subscribe(chatId, lang) {
      const created =
        (await runScript(redis, "subscribe", [keys.subscriber(chatId), keys.uidNext, keys.uidMap, keys.active, keys.langRu, keys.blocked], [
          chatId,
          lang,
          Date.now(),
        ])) === 1;
      const subscriber = await get(chatId);
      if (!subscriber) throw new Error(`subscriber ${chatId} vanished right after subscribing`);
      return { subscriber, created };
    },
    async setStatus(chatId, status) {
      return (
        (await runScript(redis, "set-status", [keys.subscriber(chatId), keys.active, keys.blocked], [status, Date.now()])) === 1
      );
    },
    async setLanguage(chatId, lang) {
      await runScript(redis, "set-language", [keys.subscriber(chatId), keys.langRu], [lang, Date.now()]);
    },
    setTopics: (chatId, topics) => changeTopics(chatId, "set", topics.join(",")),
    toggleTopic: (chatId, topic) => changeTopics(chatId, "toggle", topic),
    toggleAllTopics: (chatId) => changeTopics(chatId, "all", ""),
    async countAudience(topics) {
      const ids = topics.length ? topics : deps.topicIds();
      const tmp = `${keys.prefix}:tmp:count:${process.pid}:${Math.random().toString(36).slice(2)}`;
      const res = await redis
        .multi()
        .bitop("OR", tmp, ...ids.map((id) => keys.topic(id)))
        .bitop("AND", tmp, tmp, keys.active)
        .bitcount(tmp)
        .del(tmp)
        .exec();
      const count = res?.[2]?.[1];
      return typeof count === "number" ? count : 0;
    },
    async counts() {
      const [total, active, blocked] = await Promise.all([redis.get(keys.uidNext), redis.bitcount(keys.active), redis.bitcount(keys.blocked)]);
      return { total: Number(total ?? 0), active, blocked };
    },
  };
}
