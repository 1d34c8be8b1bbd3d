/**
 * Scenario "audience": 1,000,000 subscribers over 20 topics. Measures the time to resolve an
 * article's audience and enqueue its delivery jobs, Redis bytes per pending recipient and
 * per subscriber. Workers are not started, so the jobs stay pending while we measure.
 */
import { cpus } from "node:os";
import { createApp } from "../src/app.ts";
import { processFanout } from "../jobs/processors/fan-out.ts";
import { benchCatalog, benchConfig, median, quietLogger, startRedis, usedMemory } from "./support.ts";
import { Redis } from "ioredis";

export interface AudienceResult {
  subscribers: number;
  topics: number;
  seedSeconds: number;
  bytesPerSubscriber: number;
  runs: Array<{ audience: number; chunks: number; enqueueMs: number; bytesPerPending: number }>;
  medianEnqueueMsAll: number;
  medianBytesPerPendingAll: number;
}

export async function runAudience(opts: { subscribers?: number; runs?: number } = {}): Promise<AudienceResult> {
  const N = opts.subscribers ?? 1_000_000;
  const TOPICS = 20;
  const server = await startRedis();
  const catalog = benchCatalog(TOPICS);
  const config = benchConfig(server.url);
  const app = createApp({ config, catalog, logger: quietLogger(), role: "bot", httpPort: null, polling: false, botInfo: undefined });
  const probe = new Redis(server.url);
  try {
    const base = await usedMemory(probe);
    const t0 = performance.now();
    // Each subscriber picks 1-4 topics; the stores' own Lua scripts do the writes, 2,000 at a time.
    const BATCH = 2_000;
    let seed = 42;
    const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let start = 0; start < N; start += BATCH) {
      const ops: Array<Promise<unknown>> = [];
      for (let i = start; i < Math.min(N, start + BATCH); i++) {
        const chatId = 100_000_000 + i;
        const picks = new Set<string>();
        const k = 1 + Math.floor(rand() * 4);
        while (picks.size < k) picks.add(catalog.topics[Math.floor(rand() * TOPICS)]!.id);
        ops.push(app.subscribers.subscribe(chatId, i % 3 === 0 ? "ru" : "en").then(() => app.subscribers.setTopics(chatId, [...picks])));
      }
      await Promise.all(ops);
    }
    const seedSeconds = (performance.now() - t0) / 1000;
    const afterSeed = await usedMemory(probe);
    const bytesPerSubscriber = (afterSeed - base) / N;

    const runs: AudienceResult["runs"] = [];
    const runsWanted = opts.runs ?? 3;
    for (let r = 0; r < runsWanted * 2; r++) {
      const toAll = r % 2 === 0;
      const res = await app.ingest.ingest({
        item: { url: `https://bench.example.org/article-${r}`, title: `Bench article ${r}`, summary: "" },
        source: { kind: "cms" },
        explicitTopics: toAll ? [] : ["t03"],
        toAll,
      });
      if (res.status !== "queued") throw new Error(`bench article not queued: ${res.status}`);
      const before = await usedMemory(probe);
      // Time what a fan-out worker does for one article: resolve the audience, write the plan, enqueue.
      const start = performance.now();
      const planned = await processFanout(
        { articleId: res.id },
        {
          articles: app.articles,
          deliveries: app.deliveries,
          enqueueChunks: (id, priority, chunks) => app.queues.enqueueChunks(id, priority, chunks),
          paidBroadcast: false,
          logger: quietLogger(),
        },
      );
      const enqueueMs = performance.now() - start;
      const after = await usedMemory(probe);
      if (planned.status !== "planned") throw new Error("fan-out not planned");
      runs.push({ audience: planned.audience, chunks: planned.chunks, enqueueMs, bytesPerPending: (after - before) / planned.audience });
    }
    const all = runs.filter((_, i) => i % 2 === 0);
    return {
      subscribers: N,
      topics: TOPICS,
      seedSeconds,
      bytesPerSubscriber,
      runs,
      medianEnqueueMsAll: median(all.map((r) => r.enqueueMs)),
      medianBytesPerPendingAll: median(all.map((r) => r.bytesPerPending)),
    };
  } finally {
    probe.disconnect();
    await app.stop();
    await server.stop();
  }
}

export function audienceTable(r: AudienceResult): string {
  const rows = r.runs.map(
    (x, i) => `| ${i % 2 === 0 ? "all subscribers" : "one topic (t03)"} | ${x.audience.toLocaleString("en")} | ${x.chunks} | ${x.enqueueMs.toFixed(0)} ms | ${x.bytesPerPending.toFixed(2)} B |`,
  );
  return [
    `Audience and enqueue: ${r.subscribers.toLocaleString("en")} subscribers over ${r.topics} topics (${cpus().length} cores); seeding took ${r.seedSeconds.toFixed(1)} s; Redis bytes per subscriber: ${r.bytesPerSubscriber.toFixed(0)} B`,
    "",
    "| article to | audience | delivery jobs | resolve + enqueue | Redis bytes per pending recipient |",
    "|---|---:|---:|---:|---:|",
    ...rows,
    "",
    `Median for the whole audience: ${r.medianEnqueueMsAll.toFixed(0)} ms (target ≤ 2000 ms), ${r.medianBytesPerPendingAll.toFixed(2)} B per pending recipient (target ≤ 64 B).`,
  ].join("\n");
}
