import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Api, webhookCallback, type Bot, type BotError } from "grammy";
import type { Update } from "grammy/types";
import { run, type RunnerHandle } from "@grammyjs/runner";
import type { Context } from "../bot/context.ts";
import type { Logger } from "../logger.ts";
import { telegramProblem } from "./readiness.ts";

export const SECRET_HEADER = "x-telegram-bot-api-secret-token";

export interface WebhookRoute {
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** How updates reach the bot: long polling through the runner, or Telegram POSTing to our webhook. */
export interface UpdateIntake {
  mode: "polling" | "webhook";
  /** Webhook mode only: the route the HTTP server serves. */
  webhook?: WebhookRoute;
  start(): Promise<void>;
  /** Stops taking updates and waits (bounded) for the ones being handled. */
  stop(): Promise<void>;
}

export interface UpdateIntakeDeps {
  bot: Bot<Context>;
  /** Bot API server, for the polling client. */
  apiRoot: string;
  logger: Logger;
  webhook?: { url: string; path: string; secret: string };
  onRejected?: () => void;
  /** How long stop() waits for updates being handled. */
  drainMs?: number;
}

/** Constant-time compare that also hides the length of the secret. */
export function secretMatches(given: string | string[] | undefined, secret: string): boolean {
  if (typeof given !== "string") return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(secret));
}

export function createUpdateIntake(deps: UpdateIntakeDeps): UpdateIntake {
  return deps.webhook ? webhookIntake(deps, deps.webhook) : pollingIntake(deps);
}

function pollingIntake(deps: UpdateIntakeDeps): UpdateIntake {
  const { bot, logger } = deps;
  let handle: RunnerHandle | undefined;
  // getUpdates gets a client of its own: bot.api's auto-retry would retry network errors inside
  // the call, unseen, instead of letting the runner retry (and us log) them.
  const api = new Api(bot.token, { apiRoot: deps.apiRoot });

  // The runner is silent (its console output would bypass the token-masking logger), so its
  // getUpdates failures are logged here: the first one, then at most one line a minute.
  let failingSince = 0;
  let failures = 0;
  let lastLogged = 0;
  const failed = (reason: string) => {
    failures++;
    if (!failingSince) failingSince = Date.now();
    if (Date.now() - lastLogged >= 60_000) {
      lastLogged = Date.now();
      logger.warn({ reason, failures }, "fetching updates failed; retrying");
    }
  };
  api.config.use(async (prev, method, payload, signal) => {
    try {
      const res = await prev(method, payload, signal);
      if (!res.ok) failed(`${res.error_code}: ${res.description}`);
      else if (failingSince) {
        logger.info({ failures, downForMs: Date.now() - failingSince }, "fetching updates works again");
        failingSince = failures = lastLogged = 0;
      }
      return res;
    } catch (err) {
      if (!signal?.aborted) failed(telegramProblem(err));
      throw err;
    }
  });

  return {
    mode: "polling",
    async start() {
      // A webhook left over from a webhook deployment would make every getUpdates fail with 409.
      await api.deleteWebhook({ drop_pending_updates: false });
      const source = {
        init: () => bot.init(),
        handleUpdate: (update: Update) => bot.handleUpdate(update),
        errorHandler: (err: BotError<Context>) => bot.errorHandler(err),
        api: { getUpdates: (args: { offset: number; limit: number; timeout: number }, signal: Parameters<Api["getUpdates"]>[1]) => api.getUpdates(args, signal) },
      };
      handle = run(source, {
        // Fixed 2 s between failed getUpdates: the default doubles without a cap, so after a long
        // Telegram outage the bot would wait for as long again before it looked for updates.
        runner: { silent: true, retryInterval: 2_000, maxRetryTime: Number.MAX_SAFE_INTEGER },
      });
      handle.task()?.catch((err: unknown) => logger.error({ reason: telegramProblem(err) }, "polling stopped: no more updates will be handled"));
      logger.info({ username: bot.botInfo.username }, "bot is polling for updates");
    },
    async stop() {
      const h = handle;
      handle = undefined;
      // Resolves once the middleware of updates already fetched has finished.
      if (h) await bounded(h.stop(), deps.drainMs ?? 10_000);
    },
  };
}

function webhookIntake(deps: UpdateIntakeDeps, hook: NonNullable<UpdateIntakeDeps["webhook"]>): UpdateIntake {
  const { bot, logger } = deps;
  // "return": an update still being handled after 10 s is answered 200 anyway, or Telegram would
  // send it again and it would be handled twice.
  const callback = webhookCallback(bot, "http", { secretToken: hook.secret, onTimeout: "return", timeoutMilliseconds: 10_000 });
  let closing = false;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  const route: WebhookRoute = {
    path: hook.path,
    async handle(req, res) {
      if (closing) {
        // Shutting down: Telegram keeps the update and retries, reaching us or another instance.
        res.writeHead(503, { "retry-after": "5", connection: "close" }).end();
        return;
      }
      // Checked before the body is read: a forged request costs us nothing and changes nothing.
      if (!secretMatches(req.headers[SECRET_HEADER], hook.secret)) {
        deps.onRejected?.();
        logger.warn({ path: hook.path, ip: req.socket.remoteAddress, header: req.headers[SECRET_HEADER] === undefined ? "missing" : "wrong" }, "webhook request refused: bad secret token");
        res.writeHead(401, { "content-type": "application/json", connection: "close" }).end(JSON.stringify({ error: "unauthorized" }));
        return;
      }
      inFlight++;
      try {
        await callback(req, res);
      } finally {
        if (--inFlight === 0) idle?.();
      }
    },
  };

  return {
    mode: "webhook",
    webhook: route,
    async start() {
      await bot.api.setWebhook(hook.url, { secret_token: hook.secret, drop_pending_updates: false });
      logger.info({ path: hook.path }, "webhook set; Telegram posts updates to our HTTP server");
    },
    async stop() {
      // The webhook stays registered: Telegram holds updates while we are down, or another bot
      // process behind the same URL takes them.
      closing = true;
      if (inFlight > 0) await bounded(new Promise<void>((resolve) => (idle = resolve)), deps.drainMs ?? 10_000);
    },
  };
}

async function bounded(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.resolve(p).catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]).finally(() => clearTimeout(timer));
}
