import { readFileSync } from "node:fs";
import { inject } from "vitest";
import { Redis } from "ioredis";
import { createApp, type App, type AppOptions, type Role } from "../../src/app.ts";
import { parseCatalog, type Catalog } from "../../src/catalog.ts";
import { loadConfig, type Config } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { startTelegramEmulator, type TelegramEmulator, type TelegramEmulatorOptions } from "./telegram-emulator.ts";

export const TEST_CATALOG = readFileSync(new URL("../fixtures/catalog.yaml", import.meta.url), "utf8");

let counter = 0;
/** A key prefix no other test (or run) uses, so tests share the run's Redis without touching each other. */
export function uniquePrefix(): string {
  return `t${process.pid}x${Date.now().toString(36)}x${counter++}`;
}

export interface Harness {
  app: App;
  emu: TelegramEmulator;
  config: Config;
  catalog: Catalog;
  /** A separate connection for assertions on Redis state. */
  redis: Redis;
  logs: string[];
  stop(): Promise<void>;
}

export interface HarnessOptions {
  env?: Record<string, string>;
  catalogText?: string;
  role?: Role;
  polling?: boolean;
  httpPort?: number | null;
  tuning?: AppOptions["tuning"];
  emulator?: TelegramEmulatorOptions;
  /** Reuse an emulator (several apps against one Telegram). */
  emu?: TelegramEmulator;
  prefix?: string;
}

/** Builds the real app (same composition root as main.ts) against the emulator and the run's Redis. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const emu = opts.emu ?? (await startTelegramEmulator(opts.emulator));
  const redisUrl = inject("redisUrl");
  const config = loadConfig({
    BOT_TOKEN: emu.token,
    TELEGRAM_API_ROOT: emu.apiRoot,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: opts.prefix ?? uniquePrefix(),
    LOG_LEVEL: "debug",
    ...opts.env,
  });
  const catalog = parseCatalog(opts.catalogText ?? TEST_CATALOG, "test catalog");
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", pretty: false, secrets: [emu.token], destination: { write: (l: string) => logs.push(l) } });
  const app = createApp({
    config,
    catalog,
    logger,
    role: opts.role ?? "all",
    botInfo: emu.botInfo,
    polling: opts.polling ?? true,
    httpPort: opts.httpPort === undefined ? null : opts.httpPort,
    tuning: { lockDurationMs: 2_000, stalledIntervalMs: 1_000, retryBaseMs: 50, sendTimeoutSeconds: 5, ...opts.tuning },
  });
  await app.start();
  const redis = new Redis(redisUrl);
  return {
    app,
    emu,
    config,
    catalog,
    redis,
    logs,
    async stop() {
      await app.stop();
      // Remove this test's keys only: the Redis is shared by the whole run.
      const stream = redis.scanStream({ match: `{${config.redisPrefix}}*`, count: 1000 });
      for await (const batch of stream) if ((batch as string[]).length) await redis.unlink(...(batch as string[]));
      redis.disconnect();
      if (!opts.emu) await emu.close();
    },
  };
}
