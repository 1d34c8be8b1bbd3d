import "dotenv/config";
import { loadCatalog, CatalogError } from "./catalog.ts";
import { ConfigError, loadConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { createApp } from "./app.ts";
import { checkRedis } from "./redis.ts";

/** Set once the config is read: nothing written to stderr here may carry the token either. */
let secrets: string[] = [];
const mask = (text: string) => secrets.reduce((t, s) => t.split(s).join("[REDACTED]"), text);

function fail(lines: string[]): never {
  for (const line of lines) console.error(mask(line));
  process.exit(1);
}

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) fail(["Cannot start: the configuration is invalid.", ...err.problems.map((p) => `  - ${p}`), "See .env.example for every variable and its default."]);
  throw err;
}

secrets = [config.botToken, ...[config.webhook?.secret, config.adminDashboardPassword, config.ingestToken].filter((s): s is string => Boolean(s))];
const logger = createLogger({ level: config.logLevel, pretty: !config.isProduction, secrets });
// Node would print these to stderr itself, past the masking logger.
process.on("uncaughtException", (err) => {
  logger.fatal({ err }, "uncaught exception");
  process.exit(1);
});
process.on("unhandledRejection", (reason) => logger.error({ reason: String(reason) }, "unhandled promise rejection"));

let catalog;
try {
  catalog = loadCatalog(config.catalogPath);
} catch (err) {
  if (err instanceof CatalogError) fail([`Cannot start: ${err.message}`]);
  throw err;
}

const redisCheck = await checkRedis(config.redisUrl);
if (!redisCheck.ok) {
  fail([
    `Cannot start: Redis at ${config.redisUrl.replace(/\/\/[^@]*@/, "//***@")} does not answer (${redisCheck.reason}).`,
    "Start Redis (for example `redis-server --daemonize yes`) or point REDIS_URL at yours.",
  ]);
}
if (redisCheck.evictionPolicy && redisCheck.evictionPolicy !== "noeviction") {
  // Evicting keys would silently drop queued jobs and delivery state.
  logger.warn({ policy: redisCheck.evictionPolicy }, "Redis maxmemory-policy is not noeviction: under memory pressure Redis may drop queued deliveries; set maxmemory-policy noeviction");
}

const app = createApp({ config, catalog, logger });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) {
    // A second Ctrl-C means "now".
    logger.warn({ signal }, "second signal during shutdown; exiting at once");
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, "shutting down");
  // A bound on the whole shutdown: in-flight sends get time to finish, but we never hang forever.
  const force = setTimeout(() => {
    logger.error("shutdown took too long; exiting");
    process.exit(1);
  }, 25_000);
  force.unref();
  try {
    await app.stop();
    process.exit(0);
  } catch (err) {
    logger.error({ err }, "error during shutdown");
    process.exit(1);
  }
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

try {
  await app.start();
} catch (err) {
  logger.fatal({ reason: (err as Error).message }, "start-up failed");
  await app.stop().catch(() => undefined);
  process.exit(1);
}
