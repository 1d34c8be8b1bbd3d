/**
 * Scenario "capacity": no limit anywhere (emulator and our limiter unlimited): how many
 * messages/s the whole pipeline sustains on this machine, and what each message costs in CPU.
 * grammY alone against the same emulator gives the ceiling of the HTTP path within the same run.
 */
import { Api } from "grammy";
import { startBenchEmulator, type BenchEmulator } from "./emulator.ts";
import { figures } from "./metrics.ts";
import { benchChats, deliverOnce, seedChats, startPipeline } from "./pipeline.ts";
import { startRedis } from "./support.ts";

export interface CapacityRow {
  approach: string;
  lanes: number | null;
  concurrency: number | null;
  /** Sends in flight at most (lanes × concurrency, or the loop's concurrency). */
  inFlight: number;
  messages: number;
  lost: number;
  duplicates: number;
  /** Steady messages/s (first second excluded). */
  rate: number;
  /** Messages / (ingest → last message). */
  wallRate: number;
  /** CPU-seconds per 1,000 messages: this process, the emulator's, redis-server's. */
  cpuPer1000: number;
  emulatorCpuPer1000: number;
  redisCpuPer1000: number;
}

export interface CapacityResult {
  emulator: "child" | "inprocess";
  subscribers: number;
  rows: CapacityRow[];
}

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);

/** grammY alone: `inFlight` concurrent sendMessage loops over the chats, nothing else. */
async function grammyAlone(emu: BenchEmulator, chats: readonly number[], inFlight: number): Promise<CapacityRow> {
  const api = new Api(emu.token, { apiRoot: emu.apiRoot });
  await emu.reset();
  const emuCpu0 = await emu.cpuUsage();
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < chats.length) {
        const chat = chats[next++] ?? 0;
        await api.sendMessage(chat, "<b>Bench article</b>\nOne article to every subscriber.", { parse_mode: "HTML" }).catch(() => failed++);
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const emuCpu = await emu.cpuUsage();
  const f = figures({ approach: "grammY alone", allowedRate: Infinity, audience: chats, t0, collected: await emu.collect() });
  return {
    approach: `grammY alone (${inFlight} concurrent sendMessage)`,
    lanes: null,
    concurrency: null,
    inFlight,
    messages: f.delivered,
    lost: f.lost,
    duplicates: f.duplicates,
    rate: f.achievedRate,
    wallRate: f.delivered / f.seconds,
    cpuPer1000: ((cpu.user + cpu.system) / 1e6 / f.delivered) * 1000,
    emulatorCpuPer1000: ((emuCpu.user + emuCpu.system - emuCpu0.user - emuCpu0.system) / 1e6 / f.delivered) * 1000,
    redisCpuPer1000: 0,
  };
}

export async function runCapacity(): Promise<CapacityResult> {
  const n = env("BENCH_CAPACITY_N", 40_000);
  // "lanes x DELIVERY_CONCURRENCY" pairs; the first is the production default.
  const configs = (process.env.BENCH_CAPACITY_CONFIGS ?? "8x4,8x8")
    .split(",")
    .map((c) => c.trim().split("x").map(Number))
    .map(([lanes = 8, concurrency = 4], i) => ({ lanes, concurrency, label: i === 0 && lanes === 8 && concurrency === 4 ? "this project, defaults" : "this project" }));
  const redis = await startRedis();
  const emu = await startBenchEmulator({ globalRate: Infinity, paidRate: Infinity, perChatRate: Infinity });
  const chats = benchChats(n, 700_000_000);
  const rows: CapacityRow[] = [];
  try {
    let seeded = false;
    for (const c of configs) {
      const app = await startPipeline(redis.url, emu, {
        env: { DELIVERY_CONCURRENCY: String(c.concurrency) },
        tuning: { lanes: c.lanes, rates: { rate: Infinity, paidRate: Infinity } },
      });
      try {
        if (!seeded) await seedChats(app, chats, "t02");
        seeded = true;
        const run = await deliverOnce(app, emu, {
          approach: c.label,
          tag: `capacity-${c.lanes}x${c.concurrency}-${Date.now()}`,
          audience: chats,
          topic: "t02",
          allowedRate: Infinity,
          timeoutMs: 180_000,
        });
        const f = run.figures;
        rows.push({
          approach: `${c.label} (lanes ${c.lanes} × DELIVERY_CONCURRENCY ${c.concurrency})`,
          lanes: c.lanes,
          concurrency: c.concurrency,
          inFlight: c.lanes * c.concurrency,
          messages: f.delivered,
          lost: f.lost,
          duplicates: f.duplicates,
          rate: f.achievedRate,
          wallRate: f.delivered / f.seconds,
          cpuPer1000: (run.cpuMs / f.delivered),
          emulatorCpuPer1000: run.emulatorCpuMs / f.delivered,
          redisCpuPer1000: run.redisCpuMs / f.delivered,
        });
      } finally {
        await app.stop();
      }
    }
    // BENCH_CAPACITY_GRAMMY=0 skips it (to profile the pipeline alone).
    if (process.env.BENCH_CAPACITY_GRAMMY !== "0") rows.unshift(await grammyAlone(emu, chats, 32));
    return { emulator: emu.mode, subscribers: n, rows };
  } finally {
    await emu.close();
    await redis.stop();
  }
}

export function capacityTable(r: CapacityResult): string {
  const f = (x: number, d = 0) => x.toLocaleString("en", { maximumFractionDigits: d, minimumFractionDigits: d });
  const where = r.emulator === "child" ? "the emulator in its own process" : "the emulator in the bench process (its CPU is included in 'this process')";
  return [
    `Capacity: ${f(r.subscribers)} messages, no rate limit anywhere, ${where}; CPU-s per 1,000 messages.`,
    "",
    "| approach | in flight | steady msg/s | ingest → last msg/s | lost / dup | CPU-s/1k: pipeline process | emulator | redis |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...r.rows.map(
      (x) =>
        `| ${x.approach} | ${x.inFlight} | ${f(x.rate)} | ${f(x.wallRate)} | ${x.lost} / ${x.duplicates} | ${f(x.cpuPer1000, 2)} | ${f(x.emulatorCpuPer1000, 2)} | ${x.redisCpuPer1000 ? f(x.redisCpuPer1000, 2) : "—"} |`,
    ),
    "",
    "Target: ≥ 2,000 msg/s for the whole pipeline.",
  ].join("\n");
}
