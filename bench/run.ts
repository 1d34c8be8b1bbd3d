/**
 * npm run bench [scenario...] [--repeat=N]: runs the benchmark scenarios (all by default), each
 * against its own redis-server (and Telegram emulator), prints markdown tables and writes
 * bench/results/<date>.json (merged with the other scenarios' latest results of that day) and
 * bench/results/throughput-30.svg. With --repeat=N every scenario runs N times and the tables
 * and JSON also carry the per-approach median of each figure.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { audienceTable, runAudience } from "./audience.ts";
import { capacityTable, runCapacity, type CapacityRow } from "./capacity.ts";
import { writeThroughputChart } from "./chart.ts";
import { efficiencyTable, runEfficiency } from "./efficiency.ts";
import { FIGURES_HEADER, figuresRow, type RunFigures } from "./metrics.ts";
import { sideBySideTable, runSideBySide } from "./sidebyside.ts";
import { medianRows } from "./support.ts";

interface Scenario {
  run(): Promise<unknown>;
  table(result: never): string;
  /** Per-approach rows, for medians over repeated runs. */
  rows?(result: never): Array<{ approach: string }>;
  medianTable?(rows: never[]): string;
}

const figuresTable = (rows: RunFigures[]) => [...FIGURES_HEADER, ...rows.map(figuresRow)].join("\n");

const scenarios: Record<string, Scenario> = {
  audience: {
    run: () => runAudience({ subscribers: Number(process.env.BENCH_SUBSCRIBERS ?? 1_000_000) }),
    table: audienceTable,
  },
  efficiency: {
    run: runEfficiency,
    table: efficiencyTable,
    rows: (r: Awaited<ReturnType<typeof runEfficiency>>) => [r.normal.figures, r.paid.figures],
    medianTable: figuresTable,
  },
  capacity: {
    run: runCapacity,
    table: capacityTable,
    rows: (r: Awaited<ReturnType<typeof runCapacity>>) => r.rows,
    medianTable: (rows: CapacityRow[]) => capacityTable({ emulator: "child", subscribers: rows[0]?.messages ?? 0, rows }),
  },
  sidebyside: {
    run: runSideBySide,
    table: sideBySideTable,
    rows: (r: Awaited<ReturnType<typeof runSideBySide>>) => r.rows,
    medianTable: figuresTable,
  },
};

const args = process.argv.slice(2);
const repeat = Math.max(1, Number(args.find((a) => a.startsWith("--repeat="))?.slice("--repeat=".length) ?? process.env.BENCH_REPEAT ?? 1));
const wanted = args.filter((a) => !a.startsWith("-"));
const names = wanted.length ? wanted : Object.keys(scenarios);
const unknown = names.filter((n) => !scenarios[n]);
if (unknown.length) {
  console.error(`unknown scenario(s): ${unknown.join(", ")}; available: ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}

const out: Record<string, unknown> = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
};
for (const name of names) {
  const s = scenarios[name]!;
  const runs: Array<{ ranAt: string; loadAvg: number[]; result: unknown }> = [];
  for (let i = 0; i < repeat; i++) {
    console.log(`\n## ${name}${repeat > 1 ? ` (run ${i + 1} of ${repeat})` : ""} — load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);
    const ranAt = new Date().toISOString();
    const result = await s.run();
    runs.push({ ranAt, loadAvg: loadavg(), result });
    console.log(s.table(result as never));
  }
  if (repeat === 1) {
    out[name] = { ranAt: runs[0]?.ranAt, loadAvg: runs[0]?.loadAvg, ...(runs[0]?.result as object) };
  } else if (s.rows && s.medianTable) {
    const rows = medianRows(runs.map((r) => s.rows!(r.result as never)));
    out[name] = { runs, median: { rows } };
    console.log(`\n## ${name}: median of ${repeat} runs\n\n${s.medianTable(rows as never[])}`);
  } else {
    out[name] = { runs };
  }
}

const dir = new URL("./results/", import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`./${new Date().toISOString().slice(0, 10)}.json`, dir);
// One file per day: a run of some scenarios keeps the other scenarios' latest results of that day.
const earlier = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>) : {};
writeFileSync(file, `${JSON.stringify({ ...earlier, ...out }, null, 2)}\n`);
console.log(`\nresults written to ${file.pathname}`);
if (names.includes("sidebyside") && writeThroughputChart(out, new URL("./throughput-30.svg", dir))) {
  console.log(`chart written to ${new URL("./throughput-30.svg", dir).pathname}`);
}
process.exit(0);
