import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

/** Interface languages; every topic title and every locale file exists in each of them. */
export const LANGUAGES = ["en", "ru"] as const;
export type Language = (typeof LANGUAGES)[number];

const localized = z
  .object({ en: z.string().trim().min(1).max(64) })
  .catchall(z.string().trim().min(1).max(64))
  .describe("a title per language, at least en");

const DURATION = /^(\d+)\s*(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "90s", "5m", "2h", "1d" → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

const topicSchema = z.object({
  // Topic ids travel in callback_data (64 bytes) and hashtags, so keep them short and plain.
  id: z.string().regex(/^[a-z0-9_]{1,24}$/, { error: "id must be 1-24 lowercase letters, digits or '_'" }),
  title: localized,
  keywords: z.array(z.string().trim().min(2).max(100)).default([]),
});

const feedSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: "url must be an http(s) URL" }),
  topics: z.array(z.string()).default([]),
  every: z
    .string()
    .default("5m")
    .refine((s) => {
      const ms = parseDuration(s);
      return ms !== undefined && ms >= 30_000 && ms <= 7 * 86_400_000;
    }, { error: 'every must be a duration like "90s", "5m", "1h" between 30s and 7d' }),
  name: z.string().trim().min(1).max(100).optional(),
});

const catalogSchema = z.object({
  agency: z.string().trim().min(1).max(64).default("News"),
  topics: z.array(topicSchema).min(1, { error: "at least one topic is needed" }).max(60),
  feeds: z.array(feedSchema).default([]),
  footer: z
    .object({ text: localized, url: z.url({ protocol: /^https?$/ }).optional() })
    .optional(),
});

export interface Topic {
  id: string;
  title: Record<string, string>;
  keywords: string[];
}

export interface FeedSource {
  url: string;
  topics: string[];
  everyMs: number;
  name?: string;
}

export interface Catalog {
  /** The agency's name, shown in the welcome and help texts. */
  agency: string;
  topics: Topic[];
  feeds: FeedSource[];
  footer?: { text: Record<string, string>; url?: string };
  topicById: Map<string, Topic>;
  /** The topic's title in `lang`, falling back to English. */
  topicTitle(id: string, lang: string): string;
}

export class CatalogError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`Catalog ${source} is invalid:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "CatalogError";
  }
}

/** Names the entry a problem is in ("feeds[2] (https://…)") so an editor can find it in the file. */
function where(raw: unknown, path: PropertyKey[]): string {
  const [section, index, ...rest] = path;
  if (typeof section !== "string") return "catalog";
  let label = section;
  if (typeof index === "number") {
    const entry = (raw as Record<string, unknown[]> | null)?.[section]?.[index] as Record<string, unknown> | undefined;
    const name = entry && (typeof entry.id === "string" ? entry.id : typeof entry.url === "string" ? entry.url : undefined);
    label += `[${index}]${name ? ` (${name})` : ""}`;
  } else if (index !== undefined) {
    label += `.${String(index)}`;
  }
  return rest.length ? `${label}.${rest.map(String).join(".")}` : label;
}

export function parseCatalog(text: string, source = "catalog"): Catalog {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new CatalogError(source, [`not valid YAML: ${(err as Error).message.split("\n")[0]}`]);
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CatalogError(
      source,
      parsed.error.issues.map((i) => `${where(raw, i.path)}: ${i.message}`),
    );
  }
  const data = parsed.data;
  const problems: string[] = [];
  const topicById = new Map<string, Topic>();
  data.topics.forEach((t, i) => {
    if (topicById.has(t.id)) problems.push(`topics[${i}] (${t.id}): duplicate topic id`);
    for (const lang of LANGUAGES) {
      if (!t.title[lang]) problems.push(`topics[${i}] (${t.id}): title.${lang} is missing`);
    }
    topicById.set(t.id, { id: t.id, title: t.title, keywords: t.keywords });
  });
  const seenUrls = new Set<string>();
  const feeds: FeedSource[] = data.feeds.map((f, i) => {
    for (const t of f.topics) {
      if (!topicById.has(t)) problems.push(`feeds[${i}] (${f.url}): unknown topic "${t}"`);
    }
    if (seenUrls.has(f.url)) problems.push(`feeds[${i}] (${f.url}): the same url is listed twice`);
    seenUrls.add(f.url);
    return { url: f.url, topics: f.topics, everyMs: parseDuration(f.every) ?? 300_000, ...(f.name ? { name: f.name } : {}) };
  });
  if (problems.length) throw new CatalogError(source, problems);
  return {
    agency: data.agency,
    topics: [...topicById.values()],
    feeds,
    ...(data.footer ? { footer: data.footer } : {}),
    topicById,
    topicTitle(id, lang) {
      const t = topicById.get(id);
      return t ? (t.title[lang] ?? t.title.en ?? id) : id;
    },
  };
}

export function loadCatalog(path: string): Catalog {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CatalogError(path, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseCatalog(text, path);
}
