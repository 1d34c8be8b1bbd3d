import { Api } from "grammy";
import type { Bot } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import type { Catalog } from "./catalog.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./logger.ts";
import { createRedis, type Redis } from "./redis.ts";
import { createKeys, type Keys } from "./store/keys.ts";
import { createSubscriberStore, type SubscriberStore } from "./store/subscribers.ts";
import { createArticleStore, type ArticleStore } from "./store/articles.ts";
import { createDeliveryStore, type DeliveryStore, type RateOptions } from "./store/deliveries.ts";
import { createIngestService, type IngestService } from "./news/ingest.ts";
import { formatArticle, formatAsText, type FormatOptions } from "./news/format.ts";
import type { Article } from "./news/article.ts";
import { createBot, registerCommands } from "./bot/index.ts";
import { createI18n } from "./bot/i18n.ts";
import type { Context } from "./bot/context.ts";
import { createHttpServer, type HttpServer } from "./http/server.ts";
import { createIngestApi } from "./http/ingest-api.ts";
import { createQueues, type Queues } from "../jobs/queues.ts";
import { createWorkers, type Workers } from "../jobs/workers.ts";
import { syncFeedSchedulers } from "../jobs/schedulers.ts";

export type Role = "all" | "bot" | "worker";

export interface AppOptions {
  config: Config;
  catalog: Catalog;
  logger: Logger;
  role?: Role;
  /** Known bot identity: skips getMe (tests, benchmarks). */
  botInfo?: UserFromGetMe;
  /** Long polling for updates (off in tests that feed updates by hand). */
  polling?: boolean;
  /** HTTP port; undefined = config.port, null = no HTTP server. */
  httpPort?: number | null;
  /** Overrides for tests and benchmarks. */
  tuning?: {
    rates?: Partial<RateOptions>;
    lockDurationMs?: number;
    stalledIntervalMs?: number;
    lanes?: number;
    retryBaseMs?: number;
    maxAttempts?: number;
    outageThreshold?: number;
    sendTimeoutSeconds?: number;
  };
}

export interface App {
  keys: Keys;
  redis: Redis;
  subscribers: SubscriberStore;
  articles: ArticleStore;
  deliveries: DeliveryStore;
  ingest: IngestService;
  queues: Queues;
  bot?: Bot<Context>;
  workers?: Workers;
  http?: HttpServer;
  httpPort?: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The composition root: the only place where connections, stores, queues, the bot, the workers
 * and the HTTP server are built and wired. main.ts and the tests both come through here.
 */
export function createApp(opts: AppOptions): App {
  const { config, catalog, logger } = opts;
  const role = opts.role ?? "all";
  const tuning = opts.tuning ?? {};
  const runsBot = role === "all" || role === "bot";
  const runsWorkers = role === "all" || role === "worker";

  const redis = createRedis({ url: config.redisUrl, role: "producer", name: `newsbot-${role}` });
  redis.on("error", (err) => logger.warn({ reason: err.message }, "Redis connection problem"));
  const workerRedis = runsWorkers ? createRedis({ url: config.redisUrl, role: "worker", name: `newsbot-${role}-worker` }) : undefined;
  workerRedis?.on("error", (err) => logger.warn({ reason: err.message }, "Redis (workers) connection problem"));

  const keys = createKeys(config.redisPrefix);
  const topicIds = catalog.topics.map((t) => t.id);
  const subscribers = createSubscriberStore({ redis, keys, topicIds: () => topicIds });
  const articles = createArticleStore({ redis, keys, seenTtlSeconds: config.seenTtlSeconds });
  const rates: RateOptions = {
    rate: config.delivery.rate,
    paidRate: config.delivery.paidRate,
    perChatMs: 1_000,
    ...tuning.rates,
  };
  const deliveries = createDeliveryStore({ redis, keys, rates, recordTtlSeconds: config.seenTtlSeconds });
  const queues = createQueues({ connection: redis, prefix: config.redisPrefix, logger });
  const ingest = createIngestService({
    catalog,
    articles,
    enqueueFanout: (id, priority) => queues.enqueueFanout(id, priority),
    logger,
  });
  const i18n = createI18n();

  const bot = runsBot
    ? createBot({
        token: config.botToken,
        apiRoot: config.telegramApiRoot,
        i18n,
        ...(opts.botInfo ? { botInfo: opts.botInfo } : {}),
        services: {
          catalog,
          subscribers,
          logger,
          adminIds: new Set(config.adminIds),
          agencyName: catalog.agency,
        },
      })
    : undefined;

  const formatOptions = (lang: string): FormatOptions => ({
    ...(catalog.footer
      ? { footer: { text: catalog.footer.text[lang] ?? catalog.footer.text.en ?? "", ...(catalog.footer.url ? { url: catalog.footer.url } : {}) } }
      : {}),
    breakingLabel: i18n.t(lang, "breaking-label"),
  });
  const render = (article: Article, lang: string) => {
    const o = formatOptions(lang);
    return { message: formatArticle(article, o), fallback: formatAsText(article, o) };
  };

  const workers =
    runsWorkers && workerRedis
      ? createWorkers({
          connection: workerRedis,
          prefix: config.redisPrefix,
          queues,
          logger,
          poll: {
            feedByUrl: (url) => catalog.feeds.find((f) => f.url === url),
            articles,
            ingest,
            limits: config.feeds,
          },
          fanout: { articles, deliveries, paidBroadcast: config.delivery.paidBroadcast },
          deliver: {
            // Its own client: a short timeout, so a hung request can't hold a chunk for minutes.
            api: new Api(config.botToken, { apiRoot: config.telegramApiRoot, timeoutSeconds: tuning.sendTimeoutSeconds ?? 15 }),
            articles,
            deliveries,
            subscribers,
            render,
            lanes: tuning.lanes ?? 8,
            maxAttempts: tuning.maxAttempts ?? 4,
            retryBaseMs: tuning.retryBaseMs ?? 1_000,
            outageThreshold: tuning.outageThreshold ?? 10,
          },
          options: {
            deliveryConcurrency: config.delivery.concurrency,
            lockDurationMs: tuning.lockDurationMs ?? config.delivery.lockMs,
            stalledIntervalMs: tuning.stalledIntervalMs ?? Math.min(30_000, config.delivery.lockMs),
          },
        })
      : undefined;

  const httpPort = opts.httpPort === undefined ? config.port : opts.httpPort;
  const http =
    httpPort === null
      ? undefined
      : createHttpServer({
          logger,
          ...(config.ingestToken
            ? { ingest: createIngestApi({ token: config.ingestToken, catalog, ingest, logger }) }
            : {}),
          readiness: {
            redis: async () => {
              await redis.ping();
            },
          },
        });

  const app: App = {
    keys,
    redis,
    subscribers,
    articles,
    deliveries,
    ingest,
    queues,
    ...(bot ? { bot } : {}),
    ...(workers ? { workers } : {}),
    ...(http ? { http } : {}),
    async start() {
      await syncFeedSchedulers(queues.feeds, catalog.feeds, logger);
      await resumePending();
      if (http && httpPort !== null) {
        app.httpPort = await http.listen(httpPort);
        logger.info({ port: app.httpPort, ingest: Boolean(config.ingestToken) }, "HTTP server listening");
      }
      if (bot) {
        await bot.init();
        await registerCommands(bot.api, i18n);
        if (opts.polling !== false) {
          // bot.start() resolves only when polling stops; errors there are logged, not fatal.
          void bot
            .start({ drop_pending_updates: false, onStart: (me) => logger.info({ username: me.username }, "bot is polling for updates") })
            .catch((err) => logger.error({ reason: (err as Error).message }, "polling stopped with an error"));
        }
      }
      logger.info({ role, topics: catalog.topics.length, feeds: catalog.feeds.length }, "started");
    },
    async stop() {
      if (bot?.isRunning()) await bot.stop();
      await http?.close();
      await workers?.drainAndClose();
      await queues.close();
      await Promise.all([redis.quit().catch(() => undefined), workerRedis?.quit().catch(() => undefined)]);
      logger.info("stopped");
    },
  };

  /** Articles accepted but never fanned out (a crash between claim and enqueue) are queued again. */
  async function resumePending() {
    const ids = await articles.pending();
    for (const id of ids) {
      const article = await articles.get(id);
      if (article) await queues.enqueueFanout(id, article.priority);
      else await articles.clearPending(id);
    }
    if (ids.length) logger.info({ count: ids.length }, "re-queued articles that were accepted but not fanned out");
  }

  return app;
}
