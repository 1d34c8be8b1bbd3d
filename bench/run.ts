/**
 * npm run bench [scenario...]: runs the benchmark scenarios (all by default) against a private
 * redis-server, prints a markdown table and writes bench/results/<date>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { audienceTable, runAudience } from "./audience.ts";

const scenarios: Record<string, () => Promise<{ result: unknown; table: string }>> = {
  audience: async () => {
    const result = await runAudience({ subscribers: Number(process.env.BENCH_SUBSCRIBERS ?? 1_000_000) });
    return { result, table: audienceTable(result) };
  },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-"));
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
  console.log(`\n## ${name}\n`);
  const { result, table } = await scenarios[name]!();
  out[name] = result;
  console.log(table);
}
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
const file = new URL(`./results/${new Date().toISOString().slice(0, 10)}.json`, import.meta.url);
writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
console.log(`\nresults written to ${file.pathname}`);
process.exit(0);
