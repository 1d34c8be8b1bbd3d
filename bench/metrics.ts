/**
 * Figures of one delivery run, all computed from what the emulator accepted (its `at` timestamps)
 * and the 429s it answered, so every approach is judged by the same referee.
 */
import type { Collected } from "./emulator.ts";
import { percentile } from "./support.ts";

export interface RunFigures {
  approach: string;
  /** The emulator's limit for this run (messages/s); Infinity when unlimited. */
  allowedRate: number;
  /** The rate the sender was configured for, when it has one. */
  configuredRate?: number;
  audience: number;
  delivered: number;
  duplicates: number;
  lost: number;
  count429: number;
  /** 429s answered after the first second of sending. */
  steady429: number;
  /** 429s grouped into bursts (gaps > 250 ms): each burst costs a retry_after pause. */
  bursts429: number;
  /** Median time from the start of a 429 burst to the next accepted message (ms); null without 429s. */
  stallAfter429Ms: number | null;
  /** Messages/s accepted after the first second: whole 1 s windows from the first message + 1 s. */
  achievedRate: number;
  /** achievedRate / allowedRate (null when unlimited). */
  ratio: number | null;
  /** Most messages accepted within any sliding 1 s window. */
  peakPerSecond: number;
  /** Ingest (or broadcast start) → accepted by the emulator, first copy per chat. */
  p50Ms: number;
  p99Ms: number;
  /** Ingest → last message accepted. */
  seconds: number;
  /** Messages accepted in each whole second since ingest (for the chart). */
  perSecond: number[];
}

export function figures(opts: {
  approach: string;
  allowedRate: number;
  configuredRate?: number;
  audience: readonly number[];
  /** Ingest time (ms since epoch). */
  t0: number;
  collected: Collected;
}): RunFigures {
  const { collected, t0 } = opts;
  const wanted = new Set(opts.audience);
  const firstAt = new Map<number, number>();
  const times: number[] = [];
  let copies = 0;
  for (let i = 0; i < collected.sent.length; i += 2) {
    const chat = collected.sent[i] ?? 0;
    const at = collected.sent[i + 1] ?? 0;
    if (!wanted.has(chat)) continue;
    copies++;
    times.push(at);
    if (!firstAt.has(chat)) firstAt.set(chat, at);
  }
  times.sort((a, b) => a - b);
  const first = times[0] ?? t0;
  const last = times[times.length - 1] ?? t0;
  const steadyFrom = first + 1_000;
  // Whole 1 s windows from first + 1 s up to the last message: a sender that bursts then waits
  // (the loop with auto-retry) is judged over its full cycles, not from a burst to a burst.
  const windows = Math.floor((last - steadyFrom) / 1_000);
  let achievedRate: number;
  if (windows >= 1) {
    const until = steadyFrom + windows * 1_000;
    achievedRate = times.filter((t) => t >= steadyFrom && t < until).length / windows;
  } else {
    // Too short for a whole steady second: fall back to the whole run.
    achievedRate = times.length > 1 && last > first ? ((times.length - 1) * 1_000) / (last - first) : 0;
  }
  const latencies = [...firstAt.values()].map((at) => at - t0);
  const bursts = collected.at429.filter((t, i, all) => i === 0 || t - (all[i - 1] ?? 0) > 250);
  // at429 is sampled every 10 ms: a message accepted just before the sample may precede it.
  const stalls = bursts.map((b) => (times.find((t) => t > b) ?? b) - b).filter((ms) => ms > 0);
  const perSecond: number[] = [];
  for (const t of times) {
    const bin = Math.max(0, Math.floor((t - t0) / 1_000));
    while (perSecond.length <= bin) perSecond.push(0);
    perSecond[bin] = (perSecond[bin] ?? 0) + 1;
  }
  return {
    approach: opts.approach,
    allowedRate: opts.allowedRate,
    ...(opts.configuredRate !== undefined ? { configuredRate: opts.configuredRate } : {}),
    audience: wanted.size,
    delivered: firstAt.size,
    duplicates: copies - firstAt.size,
    lost: wanted.size - firstAt.size,
    count429: collected.count429,
    steady429: collected.at429.filter((t) => t >= steadyFrom).length,
    bursts429: bursts.length,
    stallAfter429Ms: stalls.length ? percentile(stalls, 50) : null,
    achievedRate,
    ratio: Number.isFinite(opts.allowedRate) ? achievedRate / opts.allowedRate : null,
    peakPerSecond: peakPerSecond(times),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    seconds: (last - t0) / 1_000,
    perSecond,
  };
}

/** Highest number of sorted timestamps within any 1 s window. */
export function peakPerSecond(sorted: readonly number[]): number {
  let peak = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[i] ?? 0) - (sorted[j] ?? 0) >= 1000) j++;
    peak = Math.max(peak, i - j + 1);
  }
  return peak;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const secs = (ms: number) => (ms >= 10_000 ? `${fmt(ms / 1000, 1)} s` : ms >= 1_000 ? `${fmt(ms / 1000, 2)} s` : `${fmt(ms)} ms`);

export const FIGURES_HEADER = [
  "| approach | allowed | achieved (steady) | achieved / allowed | 429s (steady) | duplicates | lost | p50 / p99 ingest → delivered | total |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
];

export function figuresRow(f: RunFigures): string {
  const allowed = Number.isFinite(f.allowedRate) ? `${fmt(f.allowedRate)}/s` : "∞";
  const ratio = f.ratio === null ? "—" : fmt(f.ratio, 3);
  return `| ${f.approach} | ${allowed} | ${fmt(f.achievedRate, f.achievedRate < 100 ? 2 : 0)}/s | ${ratio} | ${f.count429} (${f.steady429}) | ${f.duplicates} | ${f.lost} of ${fmt(f.audience)} | ${secs(f.p50Ms)} / ${secs(f.p99Ms)} | ${fmt(f.seconds, 1)} s |`;
}
