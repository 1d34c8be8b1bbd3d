import { z } from "zod";

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .transform((v) => v === "true" || v === "1" || v === "yes");

/** Messages per second may be fractional (29.5): the limiter works in microseconds. */
const rate = (min: number, max: number) =>
  z.coerce
    .number({ error: "must be a number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const int = (min: number, max: number) =>
  z.coerce
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const BOT_TOKEN_HELP =
  "BOT_TOKEN is not set. Talk to @BotFather in Telegram (https://t.me/BotFather), send /newbot, and put the token it gives you into .env as BOT_TOKEN=123456:ABC...";

const schema = z.object({
  BOT_TOKEN: z
    .string({ error: BOT_TOKEN_HELP })
    .min(1, { error: BOT_TOKEN_HELP })
    .regex(/^\d+:[\w-]+$/, { error: "BOT_TOKEN does not look like a bot token (digits, a colon, then letters): copy it again from @BotFather" }),
  TELEGRAM_API_ROOT: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }).default("https://api.telegram.org"),
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: "must be a redis:// or rediss:// URL" }).default("redis://127.0.0.1:6379"),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,32}$/, { error: "must be 1-32 letters, digits, '_', '.' or '-'" })
    .default("newsbot"),
  ADMIN_IDS: z
    .string()
    .default("")
    .transform((s, ctx) => {
      const ids: number[] = [];
      for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
        if (!/^\d{1,15}$/.test(part)) {
          ctx.addIssue({ code: "custom", message: `"${part}" is not a Telegram user id` });
          continue;
        }
        ids.push(Number(part));
      }
      return ids;
    }),
  CATALOG_PATH: z.string().min(1).default("./catalog.yaml"),
  PORT: int(0, 65535).default(3000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  INGEST_TOKEN: z
    .string()
    .min(16, { error: "must be at least 16 characters (it guards the ingest API)" })
    .optional(),
  DELIVERY_RATE: rate(1, 30).default(25),
  PAID_BROADCAST: bool.default(false),
  PAID_BROADCAST_RATE: rate(1, 1000).default(1000),
  SEEN_TTL_DAYS: int(1, 3650).default(30),
  FEED_TIMEOUT_MS: int(100, 120_000).default(15_000),
  FEED_MAX_BYTES: int(1024, 100 * 1024 * 1024).default(5 * 1024 * 1024),
  FEED_MAX_REDIRECTS: int(0, 20).default(5),
  DELIVERY_CONCURRENCY: int(1, 64).default(4),
  JOB_LOCK_MS: int(1_000, 600_000).default(30_000),
  ROLE: z.enum(["all", "bot", "worker"], { error: 'must be "all" (bot + workers), "bot" (updates + HTTP) or "worker" (jobs only)' }).default("all"),
  WEBHOOK_URL: z.url({ protocol: /^https?$/, error: "must be the public https:// URL Telegram should POST updates to" }).optional(),
  // Telegram's charset for secret_token; 16+ characters so it can't be guessed.
  WEBHOOK_SECRET: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,256}$/, { error: "must be 16-256 characters of A-Z, a-z, 0-9, '_' or '-' (Telegram's rule); e.g. openssl rand -hex 32" })
    .optional(),
  ADMIN_DASHBOARD_PASSWORD: z.string().min(12, { error: "must be at least 12 characters (it guards the queue dashboard)" }).optional(),
}).refine(
  // Without the secret anybody who finds the URL could inject updates.
  (e) => !(e.WEBHOOK_URL && !e.WEBHOOK_SECRET),
  {
    path: ["WEBHOOK_SECRET"],
    message: "is required when WEBHOOK_URL is set: Telegram sends it with every update so forged requests can be refused (e.g. openssl rand -hex 32)",
    // Run even when other variables are invalid, so every problem is listed at once.
    when: () => true,
  },
);

export type Env = z.infer<typeof schema>;

export interface Config {
  botToken: string;
  telegramApiRoot: string;
  redisUrl: string;
  redisPrefix: string;
  adminIds: number[];
  catalogPath: string;
  port: number;
  logLevel: Env["LOG_LEVEL"];
  isProduction: boolean;
  ingestToken: string | undefined;
  delivery: {
    /** Global messages/s for ordinary sends, shared by all worker processes. */
    rate: number;
    paidBroadcast: boolean;
    /** Global messages/s for sends with allow_paid_broadcast. */
    paidRate: number;
    concurrency: number;
    /** A killed worker's job is taken over after this long without a lock renewal. */
    lockMs: number;
  };
  seenTtlSeconds: number;
  feeds: { timeoutMs: number; maxBytes: number; maxRedirects: number };
  /** all: bot + workers + HTTP; bot: updates + HTTP; worker: jobs (+ health/metrics HTTP). */
  role: Env["ROLE"];
  /** Set: updates arrive by webhook at `path` of our HTTP server instead of long polling. */
  webhook: { url: string; path: string; secret: string } | undefined;
  /** Set: Bull Board at /admin/queues behind basic auth (user "admin"). */
  adminDashboardPassword: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Parses the environment once; every problem is reported, one line each, before anything connects. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  // An empty value in .env means "not set", so defaults apply instead of "" failing a check.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.join(".");
      // The token message is self-explaining; others get the variable name in front.
      return name === "BOT_TOKEN" ? issue.message : `${name}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  return {
    botToken: e.BOT_TOKEN,
    telegramApiRoot: e.TELEGRAM_API_ROOT.replace(/\/+$/, ""),
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    adminIds: e.ADMIN_IDS,
    catalogPath: e.CATALOG_PATH,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    isProduction: e.NODE_ENV === "production",
    ingestToken: e.INGEST_TOKEN,
    delivery: {
      rate: e.DELIVERY_RATE,
      paidBroadcast: e.PAID_BROADCAST,
      paidRate: e.PAID_BROADCAST_RATE,
      concurrency: e.DELIVERY_CONCURRENCY,
      lockMs: e.JOB_LOCK_MS,
    },
    seenTtlSeconds: e.SEEN_TTL_DAYS * 86_400,
    feeds: { timeoutMs: e.FEED_TIMEOUT_MS, maxBytes: e.FEED_MAX_BYTES, maxRedirects: e.FEED_MAX_REDIRECTS },
    role: e.ROLE,
    webhook:
      e.WEBHOOK_URL && e.WEBHOOK_SECRET
        ? { url: e.WEBHOOK_URL, path: new URL(e.WEBHOOK_URL).pathname, secret: e.WEBHOOK_SECRET }
        : undefined,
    adminDashboardPassword: e.ADMIN_DASHBOARD_PASSWORD,
  };
}
