import { Api } from "grammy";
import type { Bot } from "grammy";
import type { UserFromGetMe } from "grammy/types";
import type { Catalog } from "./catalog.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./logger.ts";
import { createRedis, type Redis } from "./redis.ts";
import { createThrottledReporter } from "./log-throttle.ts";
import { createKeys, type Keys } from "./store/keys.ts";
import { createSubscriberStore, type SubscriberStore } from "./store/subscribers.ts";
import { createArticleStore, type ArticleStore } from "./store/articles.ts";
import { createDeliveryStore, type DeliveryStore, type RateOptions } from "./store/deliveries.ts";
import { createBroadcastStore } from "./store/broadcasts.ts";
import { last24h } from "./store/stats.ts";
import { RedisAdapter } from "@grammyjs/storage-redis";
import type { ConversationData, VersionedState } from "@grammyjs/conversations";
import { languageFromTelegram } from "./bot/i18n.ts";
import { createIngestService, type IngestService } from "./news/ingest.ts";
import { formatArticle, formatAsText, formatBroadcast, type FormatOptions } from "./news/format.ts";
import type { Article } from "./news/article.ts";
import { createBot, registerCommands } from "./bot/index.ts";
import { createI18n } from "./bot/i18n.ts";
import type { Context } from "./bot/context.ts";
import { createHttpServer, type HttpServer } from "./http/server.ts";
import { createIngestApi } from "./http/ingest-api.ts";
import { createUpdateIntake } from "./http/updates.ts";
import { createReadinessChecks } from "./http/readiness.ts";
import { createDashboard, DASHBOARD_PATH } from "./http/dashboard.ts";
import { Registry } from "prom-client";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createQueues, type Queues } from "../jobs/queues.ts";
import { createWorkers, type Workers } from "../jobs/workers.ts";
import { syncFeedSchedulers } from "../jobs/schedulers.ts";

export type Role = Config["role"];

export interface AppOptions {
  config: Config;
  catalog: Catalog;
  logger: Logger;
  role?: Role;
  /** Known bot identity: skips getMe (tests, benchmarks). */
  botInfo?: UserFromGetMe;
  /** Long polling for updates (off in tests that feed updates by hand); WEBHOOK_URL set = webhook instead. */
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
    progressIntervalMs?: number;
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
  metrics: Metrics;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The composition root: the only place where connections, stores, queues, the bot, the workers
 * and the HTTP server are built and wired. main.ts and the tests both come through here.
 */
export function createApp(opts: AppOptions): App {
  const { config, catalog, logger } = opts;
  const role = opts.role ?? config.role;
  const tuning = opts.tuning ?? {};
  const runsBot = role === "all" || role === "bot";
  const runsWorkers = role === "all" || role === "worker";

  const redis = createRedis({ url: config.redisUrl, role: "producer", name: `newsbot-${role}` });
  const reportRedis = createThrottledReporter(logger, "warn");
  redis.on("error", (err) => reportRedis(`app:${err.message}`, { reason: err.message }, "Redis connection problem"));
  const workerRedis = runsWorkers ? createRedis({ url: config.redisUrl, role: "worker", name: `newsbot-${role}-worker` }) : undefined;
  workerRedis?.on("error", (err) => reportRedis(`workers:${err.message}`, { reason: err.message }, "Redis (workers) connection problem"));

  const keys = createKeys(config.redisPrefix);
  const topicIds = catalog.topics.map((t) => t.id);
  const subscribers = createSubscriberStore({ redis, keys, topicIds: () => topicIds });
  const articles = createArticleStore({ redis, keys, seenTtlSeconds: config.seenTtlSeconds });
  const rates: RateOptions = {
    rate: config.delivery.rate,
    paidRate: config.delivery.paidRate,
    // A little over a second: the gap Telegram sees also includes the jitter of two HTTP round trips.
    perChatMs: 1_100,
    ...tuning.rates,
  };
  const deliveries = createDeliveryStore({ redis, keys, rates, recordTtlSeconds: config.seenTtlSeconds });
  const queues = createQueues({ connection: redis, prefix: config.redisPrefix, logger });
  // A registry per app, not prom-client's global one: tests build several apps in one process.
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  const metrics = createMetrics({ registry, queueDepths: () => queues.depths() });
  const ingest = createIngestService({
    catalog,
    articles,
    enqueueFanout: (id, priority) => queues.enqueueFanout(id, priority),
    logger,
  });
  const i18n = createI18n();
  const broadcasts = createBroadcastStore({ redis, keys });
  const configuredRate = (paid: boolean) => (paid ? rates.paidRate : rates.rate);
  const translator = (lang: string) => (key: string, vars?: Record<string, string | number>) => i18n.t(lang, key, vars);
  const languageOf = async (userId: number, telegramLang: string | undefined) =>
    (await subscribers.get(userId))?.lang ?? languageFromTelegram(telegramLang);

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
          admin: {
            deliveries,
            broadcasts,
            last24h: () => last24h(redis, keys),
            queueDepths: () => queues.depths(),
            configuredRate,
          },
        },
        broadcast: {
          catalog,
          subscribers,
          ingest,
          broadcasts,
          startProgress: (id) => queues.enqueueProgress(id),
          languageOf,
          translator,
          paidAvailable: config.delivery.paidBroadcast,
        },
        conversationStorage: {
          prefix: `${keys.prefix}:conv:`,
          // A day is plenty for an editor to finish composing; abandoned flows then clean themselves up.
          adapter: new RedisAdapter<VersionedState<ConversationData>>({ instance: redis, ttl: 86_400 }),
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
    if (article.broadcast) return formatBroadcast(article.broadcast);
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
            onPoll: metrics.onPoll,
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
            onSent: metrics.onSent,
          },
          progress: {
            api: new Api(config.botToken, { apiRoot: config.telegramApiRoot, timeoutSeconds: 10 }),
            deliveries,
            broadcasts,
            translatorFor: async (adminId) => translator(await languageOf(adminId, undefined)),
            configuredRate,
          },
          options: {
            deliveryConcurrency: config.delivery.concurrency,
            lockDurationMs: tuning.lockDurationMs ?? config.delivery.lockMs,
            stalledIntervalMs: tuning.stalledIntervalMs ?? Math.min(30_000, config.delivery.lockMs),
            ...(tuning.progressIntervalMs ? { progressIntervalMs: tuning.progressIntervalMs } : {}),
          },
        })
      : undefined;

  const httpPort = opts.httpPort === undefined ? config.port : opts.httpPort;
  // Updates come by webhook when WEBHOOK_URL is set (served by our HTTP server), by long polling otherwise.
  const intake =
    bot && (config.webhook ? httpPort !== null : opts.polling !== false)
      ? createUpdateIntake({ bot, apiRoot: config.telegramApiRoot, logger, ...(config.webhook ? { webhook: config.webhook } : {}), onRejected: metrics.webhookRejected })
      : undefined;
  const http =
    httpPort === null
      ? undefined
      : createHttpServer({
          logger,
          ...(config.ingestToken
            ? { ingest: createIngestApi({ token: config.ingestToken, catalog, ingest, logger }) }
            : {}),
          // Its own client: no auto-retry, a short timeout; a probe must answer quickly either way.
          readiness: createReadinessChecks({ redis, telegram: new Api(config.botToken, { apiRoot: config.telegramApiRoot, timeoutSeconds: 3 }) }),
          metrics: registry,
          ...(intake?.webhook ? { webhook: intake.webhook } : {}),
          ...(config.adminDashboardPassword
            ? { dashboard: { basePath: DASHBOARD_PATH, handle: createDashboard({ queues: [queues.feeds, queues.fanout, queues.delivery, queues.progress], password: config.adminDashboardPassword }) } }
            : {}),
        });

  const app: App = {
    keys,
    redis,
    subscribers,
    articles,
    deliveries,
    ingest,
    queues,
    metrics,
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
        await registerCommands(bot.api, i18n, config.adminIds, (msg, extra) => logger.warn(extra, msg));
        await intake?.start();
      }
      logger.info({ role, topics: catalog.topics.length, feeds: catalog.feeds.length }, "started");
    },
    async stop() {
      // Updates first (their handlers still have Redis), then HTTP; then workers abort their chunks
      // after the sends in flight (the rest is re-queued), and only then queues and Redis close.
      await intake?.stop();
      await http?.close();
      await workers?.drainAndClose();
      // Closing queues writes nothing, but waits for a connection; don't let a dead Redis hold us.
      await Promise.race([queues.close(), new Promise((resolve) => setTimeout(resolve, 3_000).unref())]);
      // QUIT waits for a connection that is down (forever for the workers' one): just drop those.
      const close = (r: Redis) => (r.status === "ready" ? r.quit().then(() => undefined, () => r.disconnect()) : r.disconnect());
      await Promise.all([close(redis), workerRedis && close(workerRedis)]);
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
