/**
 * Hand-made SVG line chart: messages Telegram (the emulator) accepted in each second, per
 * approach. Written by bench/run.ts after "sidebyside"; also runnable on its own
 * to redraw from a results file: npx tsx bench/chart.ts [bench/results/<date>.json]
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface Series {
  label: string;
  perSecond: number[];
}

const COLORS = ["#d62728", "#ff7f0e", "#9467bd", "#1f77b4", "#2ca02c", "#8c564b", "#17becf"];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function throughputSvg(series: Series[], opts: { limit: number; title: string; subtitle?: string }): string {
  const W = 960;
  const H = 480;
  const m = { left: 56, right: 20, top: 56, bottom: 48 };
  const legendH = 20 * Math.ceil(series.length / 2) + 8;
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom - legendH;
  const maxX = Math.max(10, ...series.map((s) => s.perSecond.length));
  const maxY = Math.ceil(Math.max(opts.limit * 1.2, ...series.flatMap((s) => s.perSecond)) / 5) * 5;
  const x = (sec: number) => m.left + (sec / maxX) * plotW;
  const y = (v: number) => m.top + plotH - (v / maxY) * plotH;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="16" font-weight="bold">${esc(opts.title)}</text>`);
  if (opts.subtitle) out.push(`<text x="${m.left}" y="42" fill="#555">${esc(opts.subtitle)}</text>`);
  // Grid and axes.
  const yStep = maxY <= 50 ? 5 : maxY <= 200 ? 20 : Math.ceil(maxY / 10 / 50) * 50;
  for (let v = 0; v <= maxY; v += yStep) {
    out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#333">${v}</text>`);
  }
  const xStep = maxX <= 40 ? 5 : maxX <= 100 ? 10 : 20;
  for (let s = 0; s <= maxX; s += xStep) {
    out.push(`<line x1="${x(s).toFixed(1)}" x2="${x(s).toFixed(1)}" y1="${m.top}" y2="${m.top + plotH}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x(s).toFixed(1)}" y="${m.top + plotH + 16}" text-anchor="middle" fill="#333">${s}</text>`);
  }
  out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${m.top + plotH + 34}" text-anchor="middle" fill="#333">seconds since the broadcast started</text>`);
  out.push(`<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#333">messages accepted per second</text>`);
  // Telegram's limit.
  out.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(opts.limit).toFixed(1)}" y2="${y(opts.limit).toFixed(1)}" stroke="#000" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${m.left + plotW - 4}" y="${(y(opts.limit) - 5).toFixed(1)}" text-anchor="end">limit ${opts.limit}/s</text>`);
  // One step line per series: each second's count drawn across that second.
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] ?? "#000";
    const pts: string[] = [];
    s.perSecond.forEach((v, sec) => {
      pts.push(`${x(sec).toFixed(1)},${y(v).toFixed(1)}`, `${x(sec + 1).toFixed(1)},${y(v).toFixed(1)}`);
    });
    pts.push(`${x(s.perSecond.length).toFixed(1)},${y(0).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" stroke-opacity="0.85" points="${pts.join(" ")}"/>`);
    const lx = m.left + (i % 2) * (plotW / 2);
    const ly = m.top + plotH + 52 + Math.floor(i / 2) * 20;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}">${esc(s.label)}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

interface Rows {
  rows?: Array<{ approach: string; perSecond: number[] }>;
  subscribers?: number;
}

/** The side-by-side series of a results object (a single run, or the median run of a repeat). */
export function seriesFrom(results: Record<string, unknown>): { series: Series[]; subscribers?: number } {
  const side = results.sidebyside as (Rows & { median?: Rows; runs?: Array<{ result: Rows }> }) | undefined;
  const rows = side?.rows ?? side?.median?.rows ?? [];
  const subscribers = side?.subscribers ?? side?.runs?.[0]?.result.subscribers;
  return { series: rows.map((r) => ({ label: r.approach, perSecond: r.perSecond })), ...(subscribers ? { subscribers } : {}) };
}

export function writeThroughputChart(results: Record<string, unknown>, file: URL): boolean {
  const { series, subscribers } = seriesFrom(results);
  if (!series.length) return false;
  const machine = results.machine as { cpus?: number; cpu?: string; node?: string } | undefined;
  const svg = throughputSvg(series, {
    limit: 30,
    title: `One article to ${subscribers?.toLocaleString("en") ?? "N"} subscribers at Telegram's 30 msg/s: messages accepted per second`,
    subtitle: `emulator: 30 per sliding second, retry_after 1 s; ${machine?.cpus ?? "?"} cores ${machine?.cpu ?? ""}, Node ${machine?.node ?? "?"}; ${String(results.date ?? "").slice(0, 10)}`,
  });
  writeFileSync(file, svg);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = new URL("./results/", import.meta.url);
  const arg = process.argv[2];
  const latest = readdirSync(dir).filter((f) => /^\d{4}-\d{2}-\d{2}\.json$/.test(f)).sort().pop();
  const path = arg ?? (latest ? fileURLToPath(new URL(latest, dir)) : undefined);
  if (!path) {
    console.error("no results file");
    process.exit(2);
  }
  const results = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  const target = new URL("./throughput-30.svg", dir);
  console.log(writeThroughputChart(results, target) ? `chart written to ${target.pathname}` : "no 30/s series in that file");
}
