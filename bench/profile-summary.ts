/**
 * Summarises a V8 CPU profile (node --cpu-prof) by self time: top functions and top files /
 * packages, and who (first frame outside Node's own modules) called the top native functions,
 * e.g. whether socket writes were HTTP requests (node-fetch) or Redis commands (ioredis).
 * Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]");
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i] ?? 0;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

const where = (url: string, fn: string) => {
  if (fn === "(idle)" || fn === "(program)" || fn === "(garbage collector)") return fn;
  if (!url) return "(native/V8)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) return url;
  const m = /\/(src|jobs|bench|test)\/.*$/.exec(url);
  return m ? m[0].slice(1) : url;
};

const fnTotals = new Map<string, number>();
const fileTotals = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id);
  if (!n) continue;
  const f = n.callFrame;
  const loc = where(f.url, f.functionName);
  const name = `${f.functionName || "(anonymous)"}  ${loc}${f.url ? `:${f.lineNumber + 1}` : ""}`;
  fnTotals.set(name, (fnTotals.get(name) ?? 0) + us);
  fileTotals.set(loc, (fileTotals.get(loc) ?? 0) + us);
}
const idle = fileTotals.get("(idle)") ?? 0;
const busy = total - idle;
const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
const show = (title: string, m: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
};
fileTotals.delete("(idle)");
for (const k of [...fnTotals.keys()]) if (k.startsWith("(idle)")) fnTotals.delete(k);
console.log(`${file}: ${(busy / 1e6).toFixed(2)} s busy (percentages below) + ${(idle / 1e6).toFixed(2)} s idle`);
show("self time by file / package", fileTotals);
show("self time by function", fnTotals);

// Parents, to attribute native self time (socket writes…) to the package that asked for it.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const callerOf = (id: number) => {
  for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
    const f = byId.get(p)?.callFrame;
    if (f?.url && !f.url.startsWith("node:")) return where(f.url, f.functionName);
  }
  return "(none)";
};
for (const native of ["writeUtf8String", "writev", "writeBuffer"]) {
  const byCaller = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const f = byId.get(id)?.callFrame;
    if (f?.functionName !== native || f.url) continue;
    const c = callerOf(id);
    byCaller.set(c, (byCaller.get(c) ?? 0) + us);
  }
  if (byCaller.size) show(`${native} (native) by calling package`, byCaller);
}
