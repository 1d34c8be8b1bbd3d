/**
 * This project's delivery pipeline, built the way main.ts builds it (createApp, role "worker"),
 * against the bench emulator and a private redis-server: seed subscribers, ingest one article,
 * wait for its fan-out to finish, and read the figures off the emulator.
 */
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { Redis } from "ioredis";
import { createApp, type App, type AppOptions } from "../src/app.ts";
import { createLogger } from "../src/logger.ts";
import { loopDelayMonitor, type BenchEmulator, type LoopDelay } from "./emulator.ts";
import { figures, type RunFigures } from "./metrics.ts";
import { benchCatalog, benchConfig } from "./support.ts";

export const BENCH_TOPIC = "t00";
const catalog = benchCatalog(20);

/** Chat ids of `n` bench subscribers (private chats). */
export const benchChats = (n: number, from = 500_000_000) => Array.from({ length: n }, (_, i) => from + i);

export interface PipelineSettings {
  /** Extra environment for loadConfig (DELIVERY_RATE, PAID_BROADCAST, DELIVERY_CONCURRENCY…). */
  env?: Record<string, string>;
  tuning?: AppOptions["tuning"];
}

/** Builds and starts the app; resolves once its BullMQ workers are connected. */
export async function startPipeline(redisUrl: string, emu: BenchEmulator, settings: PipelineSettings = {}): Promise<App> {
  const config = benchConfig(redisUrl, { BOT_TOKEN: emu.token, TELEGRAM_API_ROOT: emu.apiRoot, ...settings.env });
  const app = createApp({
    config,
    catalog,
    // Errors only: a 429 at DELIVERY_RATE=30 would otherwise print a warning per hit.
    logger: createLogger({ level: process.env.BENCH_LOG_LEVEL ?? "error", pretty: false }),
    role: "worker",
    polling: false,
    httpPort: null,
    botInfo: emu.botInfo,
    ...(settings.tuning ? { tuning: settings.tuning } : {}),
  });
  if (process.env.BENCH_COALESCE === "1") coalesceEvalsha(app.redis);
  if (process.env.BENCH_FIX_GCRA === "1") exactGcra(app);
  await app.start();
  await Promise.all((app.workers?.all ?? []).map((w) => w.waitUntilReady()));
  return app;
}

/**
 * Experiment (BENCH_COALESCE=1), not a change to the app: every EVALSHA the stores issue within
 * one event-loop turn goes to Redis as one pipeline (one write, one read) instead of one round
 * trip each. It estimates what batching acquire-slot / settle per message would save.
 */
function coalesceEvalsha(redis: App["redis"]): void {
  type Pending = { args: Parameters<App["redis"]["evalsha"]>; resolve: (v: unknown) => void; reject: (e: unknown) => void };
  let batch: Pending[] = [];
  const flush = () => {
    const now = batch;
    batch = [];
    const p = redis.pipeline();
    for (const x of now) p.evalsha(...x.args);
    p.exec().then(
      (results) => now.forEach((x, i) => (results?.[i]?.[0] ? x.reject(results[i]![0]) : x.resolve(results?.[i]?.[1]))),
      (err: unknown) => now.forEach((x) => x.reject(err)),
    );
  };
  const patched = (...args: Parameters<App["redis"]["evalsha"]>) =>
    new Promise<unknown>((resolve, reject) => {
      batch.push({ args, resolve, reject });
      if (batch.length === 1) setImmediate(flush);
    });
  (redis as unknown as { evalsha: typeof patched }).evalsha = patched;
}

/**
 * Experiment (BENCH_FIX_GCRA=1), not a change to the app: runs src/store/lua/acquire-slot.lua
 * with its one `tostring(tat + interval)` replaced by `string.format('%.0f', tat + interval)`.
 * Redis' Lua 5.1 formats numbers with "%.14g", so tostring() of a µs timestamp (16 digits) rounds
 * it to 100 µs and every interval to a multiple of 100 µs (950/s: 1053 µs → 1100 µs = 909/s;
 * 970/s: 1031 → 1000 µs = 1000/s). Everything else (keys, arguments, answers) is the real script.
 */
function exactGcra(app: App): void {
  const text = readFileSync(new URL("../src/store/lua/acquire-slot.lua", import.meta.url), "utf8");
  const fixed = text.replace("tostring(tat + interval)", "string.format('%.0f', tat + interval)");
  // The fix has since landed in the script itself: nothing left to patch.
  if (fixed === text) return;
  const sha = createHash("sha1").update(text).digest("hex");
  type Evalsha = (sha: string, ...rest: Array<string | number>) => Promise<unknown>;
  const redis = app.redis as unknown as { evalsha: Evalsha; eval: Evalsha };
  const original = redis.evalsha.bind(app.redis);
  redis.evalsha = (s, ...rest) => (s === sha ? redis.eval(fixed, ...rest) : original(s, ...rest));
}

/** Subscribes every chat to `topic` through the stores' Lua scripts, 2,000 at a time. */
export async function seedChats(app: App, chats: readonly number[], topic = BENCH_TOPIC): Promise<void> {
  for (let i = 0; i < chats.length; i += 2_000) {
    await Promise.all(
      chats.slice(i, i + 2_000).map(async (id) => {
        await app.subscribers.subscribe(id, "en");
        await app.subscribers.setTopics(id, [topic]);
      }),
    );
  }
}

export interface PipelineRun {
  figures: RunFigures;
  /** CPU time of this (the pipeline's) process during the run. */
  cpuMs: number;
  /** CPU time of the emulator's process (the same as cpuMs when it runs in-process). */
  emulatorCpuMs: number;
  /** CPU time redis-server reported for the run. */
  redisCpuMs: number;
  /** Event-loop delay (ms) of the pipeline's process and of the emulator's during the run. */
  loopDelay: { pipeline: LoopDelay; emulator: LoopDelay };
  state: string;
  sentByRecord: number;
  articleId: string;
}

async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  return (user + sys) * 1000;
}

const cpuMsOf = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

/**
 * BENCH_CPU_PROFILE=<path prefix>: a V8 CPU profile of this process for just the delivery
 * (ingest → done), without start-up and seeding; read it with bench/profile-summary.ts.
 */
async function startProfile(tag: string): Promise<() => Promise<void>> {
  const prefix = process.env.BENCH_CPU_PROFILE;
  if (!prefix) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(`${prefix}-${tag}.cpuprofile`, JSON.stringify(profile));
    session.disconnect();
  };
}

/**
 * One article to every seeded chat: resets the emulator, ingests, waits for "done", collects.
 * `tag` makes the URL (and so the article) unique per run.
 */
export async function deliverOnce(
  app: App,
  emu: BenchEmulator,
  opts: {
    approach: string;
    tag: string;
    audience: readonly number[];
    topic?: string;
    allowedRate: number;
    configuredRate?: number;
    timeoutMs: number;
  },
): Promise<PipelineRun> {
  const probe = new Redis(app.redis.options);
  try {
    await emu.reset();
    const emuCpu0 = await emu.cpuUsage();
    const redisCpu0 = await redisCpuMs(probe);
    const loop = loopDelayMonitor();
    const stopProfile = await startProfile(opts.tag);
    const cpu0 = process.cpuUsage();
    const t0 = Date.now();
    const res = await app.ingest.ingest({
      item: { url: `https://bench.example.org/${opts.tag}`, title: `Bench article ${opts.tag}`, summary: "One article to every subscriber of the bench topic." },
      source: { kind: "cms" },
      explicitTopics: [opts.topic ?? BENCH_TOPIC],
    });
    if (res.status !== "queued") throw new Error(`bench article not queued: ${res.status}`);
    const deadline = t0 + opts.timeoutMs;
    let record = await app.deliveries.record(res.id);
    while (!(record && ["done", "cancelled"].includes(record.state)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      record = await app.deliveries.record(res.id);
    }
    const cpu = process.cpuUsage(cpu0);
    await stopProfile();
    const pipelineLoop = loop.read();
    loop.stop();
    const [emuCpu1, redisCpu1] = await Promise.all([emu.cpuUsage(), redisCpuMs(probe)]);
    const collected = await emu.collect();
    return {
      figures: figures({
        approach: opts.approach,
        allowedRate: opts.allowedRate,
        ...(opts.configuredRate !== undefined ? { configuredRate: opts.configuredRate } : {}),
        audience: opts.audience,
        t0,
        collected,
      }),
      cpuMs: cpuMsOf(cpu),
      emulatorCpuMs: cpuMsOf(emuCpu1) - cpuMsOf(emuCpu0),
      redisCpuMs: redisCpu1 - redisCpu0,
      loopDelay: { pipeline: pipelineLoop, emulator: collected.loopDelay },
      state: record?.state ?? "missing",
      sentByRecord: record?.sent ?? 0,
      articleId: res.id,
    };
  } finally {
    probe.disconnect();
  }
}
