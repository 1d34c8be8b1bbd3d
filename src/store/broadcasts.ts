import type { Redis } from "ioredis";
import type { Keys } from "./keys.ts";

export interface BroadcastInfo {
  id: string;
  adminId: number;
  /** Where the live progress message lives. */
  chatId: number;
  statusMessageId: number;
  /** "all" or a csv of topic ids. */
  audience: string;
  /** First characters of the message, for /broadcasts. */
  preview: string;
  createdAt: number;
}

export interface BroadcastStore {
  save(info: BroadcastInfo, ttlSeconds: number): Promise<void>;
  get(id: string): Promise<BroadcastInfo | undefined>;
  recent(limit: number): Promise<BroadcastInfo[]>;
}

export function createBroadcastStore(deps: { redis: Redis; keys: Keys }): BroadcastStore {
  const { redis, keys } = deps;
  const parse = (id: string, h: Record<string, string>): BroadcastInfo | undefined =>
    h.chat_id
      ? {
          id,
          adminId: Number(h.admin_id),
          chatId: Number(h.chat_id),
          statusMessageId: Number(h.status_message_id),
          audience: h.audience ?? "all",
          preview: h.preview ?? "",
          createdAt: Number(h.created_at),
        }
      : undefined;
  return {
    async save(info, ttl) {
      await redis
        .multi()
        .hset(keys.broadcast(info.id), {
          admin_id: info.adminId,
          chat_id: info.chatId,
          status_message_id: info.statusMessageId,
          audience: info.audience,
          preview: info.preview,
          created_at: info.createdAt,
        })
        .expire(keys.broadcast(info.id), ttl)
        .zadd(keys.broadcasts, info.createdAt, info.id)
        .zremrangebyrank(keys.broadcasts, 0, -201)
        .exec();
    },
    async get(id) {
      return parse(id, await redis.hgetall(keys.broadcast(id)));
    },
    async recent(limit) {
      const ids = await redis.zrevrange(keys.broadcasts, 0, limit - 1);
      const all = await Promise.all(ids.map(async (id) => parse(id, await redis.hgetall(keys.broadcast(id)))));
      return all.filter((b): b is BroadcastInfo => b !== undefined);
    },
  };
}
