import type { Catalog } from "../catalog.ts";
import type { Logger } from "../logger.ts";
import type { ArticleStore } from "../store/articles.ts";
import { randomBytes } from "node:crypto";
import type { Article, ArticleSource, BroadcastBody, FeedItem, Priority } from "./article.ts";
import { createClassifier } from "./classify.ts";
import { articleIdFor, normalizeGuid, normalizeUrl } from "./normalize-url.ts";

export interface IngestInput {
  item: FeedItem;
  source: ArticleSource;
  priority?: Priority;
  /** The feed's default topics. */
  feedTopics?: string[];
  /** Topics named explicitly (CMS push, admin broadcast); unknown ids must be rejected before. */
  explicitTopics?: string[];
  /** First poll of a new feed: remember the item, deliver nothing. */
  seenOnly?: boolean;
  paid?: boolean;
  toAll?: boolean;
}

export type IngestResult =
  | { status: "queued"; id: string; topics: string[] }
  | { status: "duplicate"; id: string }
  | { status: "no-topic"; id: string }
  | { status: "seen"; id: string };

export interface BroadcastInput {
  adminId: number;
  body: BroadcastBody;
  /** Empty = every active subscriber. */
  topics: string[];
  paid: boolean;
}

export interface IngestService {
  ingest(input: IngestInput): Promise<IngestResult>;
  /** Queues an editor's breaking-news broadcast; every call is a new broadcast. */
  broadcast(input: BroadcastInput): Promise<{ id: string }>;
  /** Topics the keyword rules give a text (exposed for the admin preview and tests). */
  classify(text: string): string[];
}

export function createIngestService(deps: {
  catalog: Catalog;
  articles: ArticleStore;
  /** Starts the fan-out; the jobs layer provides it, so news/ never imports BullMQ. */
  enqueueFanout: (articleId: string, priority: Priority) => Promise<void>;
  logger: Logger;
}): IngestService {
  const classify = createClassifier(deps.catalog.topics);
  const order = deps.catalog.topics.map((t) => t.id);

  return {
    classify,
    async broadcast(input) {
      const id = `b${randomBytes(8).toString("hex")}`;
      const article: Article = {
        id,
        url: "",
        title: "",
        summary: "",
        topics: order.filter((t) => input.topics.includes(t)),
        priority: "breaking",
        source: { kind: "broadcast", adminId: input.adminId },
        ingestedAt: Date.now(),
        ...(input.paid ? { paid: true } : { paid: false }),
        ...(input.topics.length === 0 ? { toAll: true } : {}),
        broadcast: input.body,
      };
      const claim = await deps.articles.claim(article, [`b:${id}`], "deliver");
      if (!claim.accepted) throw new Error(`broadcast id collision: ${id}`);
      await deps.enqueueFanout(id, "breaking");
      deps.logger.info({ articleId: id, adminId: input.adminId, topics: article.topics, toAll: article.toAll === true, paid: input.paid }, "broadcast queued");
      return { id };
    },
    async ingest(input) {
      const url = normalizeUrl(input.item.url);
      const id = articleIdFor(url);
      const identities = [`u:${url}`];
      if (input.item.guid) {
        const guid = normalizeGuid(input.item.guid);
        // A URL-shaped guid is global; an opaque one ("1234") only means something inside its feed.
        const scoped = /^https?:\/\//.test(guid) || input.source.kind !== "feed" ? guid : `${input.source.feedUrl}#${guid}`;
        identities.push(`g:${scoped}`);
      }
      const wanted = new Set([
        ...(input.feedTopics ?? []),
        ...(input.explicitTopics ?? []),
        ...classify(`${input.item.title}\n${input.item.summary}`),
      ]);
      const topics = order.filter((t) => wanted.has(t));
      const priority = input.priority ?? "normal";
      const article: Article = {
        id,
        url: input.item.url,
        title: input.item.title,
        summary: input.item.summary,
        ...(input.item.imageUrl ? { imageUrl: input.item.imageUrl } : {}),
        ...(input.item.publishedAt ? { publishedAt: input.item.publishedAt } : {}),
        topics,
        priority,
        source: input.source,
        ingestedAt: Date.now(),
        ...(input.paid ? { paid: true } : {}),
        ...(input.toAll ? { toAll: true } : {}),
      };
      const reachesSomeone = topics.length > 0 || input.toAll === true;
      const mode = input.seenOnly ? "seen-only" : reachesSomeone ? "deliver" : "no-topic";
      const claim = await deps.articles.claim(article, identities, mode);
      if (!claim.accepted) return { status: "duplicate", id: claim.id };
      if (mode === "seen-only") return { status: "seen", id };
      if (mode === "no-topic") {
        deps.logger.info({ articleId: id, url: article.url, source: input.source }, "article matches no topic; not delivered");
        return { status: "no-topic", id };
      }
      // If this enqueue fails, the article stays in the pending set and is re-enqueued by resumePending().
      await deps.enqueueFanout(id, priority);
      deps.logger.info({ articleId: id, url: article.url, topics, priority }, "article queued for fan-out");
      return { status: "queued", id, topics };
    },
  };
}
