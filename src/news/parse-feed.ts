import {
  DetectError,
  MalformedError,
  ParseError,
  parseAtomFeed,
  parseJsonFeed,
  parseRdfFeed,
  parseRssFeed,
} from "feedsmith";
import type { AtomFeed, JsonFeed, MediaNs, RdfFeed, RssFeed } from "feedsmith";
import type { FeedItem } from "./article.ts";

export type FeedErrorCode =
  | "http"
  | "timeout"
  | "too-large"
  | "too-many-redirects"
  | "charset"
  | "parse"
  | "unsafe"
  | "not-a-feed"
  | "network"
  | "bad-url";

/** Every failure of fetching or parsing a feed; `code` is for branching/metrics, `reason` for logs. */
export class FeedError extends Error {
  override name = "FeedError";
  readonly reason: string;
  readonly code: FeedErrorCode;
  /** HTTP status, for code "http". */
  readonly status?: number;

  constructor(reason: string, code: FeedErrorCode, options?: { status?: number; cause?: unknown }) {
    super(reason, options?.cause === undefined ? undefined : { cause: options.cause });
    this.reason = reason;
    this.code = code;
    if (options?.status !== undefined) this.status = options.status;
  }
}

export type FeedFormat = "rss" | "atom" | "rdf" | "json";

export interface ParsedFeed {
  format: FeedFormat;
  title?: string;
  items: FeedItem[];
  /** Items dropped during normalisation; `index` is the item's position in the feed. */
  skipped: Array<{ reason: string; index: number }>;
}

export const MAX_SUMMARY_CHARS = 2000;
const DERIVED_TITLE_CHARS = 80;
// Only the start of an item's HTML can end up in a 2000-char summary; bounding the input keeps
// cleaning cheap even for feeds that inline whole articles.
const MAX_HTML_CHARS = 200_000;

/**
 * Decodes, checks and parses a feed body (RSS 2.0, RSS 1.0/RDF, Atom, JSON Feed) into plain-text
 * items. Throws FeedError (codes "charset", "unsafe", "parse", "not-a-feed").
 */
export function parseFeed(body: Buffer, contentType: string | undefined, baseUrl: string): ParsedFeed {
  const text = decodeBody(body, contentType);
  const start = text.search(/\S/);
  if (start === -1) throw new FeedError("not a recognised feed format: empty document", "not-a-feed");

  if (text[start] === "{") return parseJson(text, baseUrl);
  if (text[start] !== "<") throw new FeedError("not a recognised feed format", "not-a-feed");

  assertNoDtd(text);
  const root = rootElement(text);
  if (!root) throw new FeedError("not a recognised feed format: no root element", "not-a-feed");
  const local = root.slice(root.indexOf(":") + 1).toLowerCase();
  // Dispatch on the root element rather than feedsmith's regex sniffing, which can be fooled by
  // markup quoted inside CDATA (e.g. an Atom entry that shows an "<rss version=...>" example).
  const format = local === "rss" ? "rss" : local === "feed" ? "atom" : local === "rdf" ? "rdf" : undefined;
  if (!format) throw new FeedError(`not a recognised feed format: root element <${root}>`, "not-a-feed");
  // fast-xml-parser silently accepts a document cut off after a complete element (e.g. a
  // truncated download), which would yield a partial item list; require the root to be closed.
  if (!new RegExp(`</${escapeRegExp(root)}\\s*>`).test(text.slice(-4096))) {
    throw new FeedError(`malformed XML: root element <${root}> is not closed`, "parse");
  }

  if (format === "rss") {
    const feed = runParser(() => parseRssFeed(text), format);
    return finish(format, feed.title, (feed.items ?? []).map(rssRaw), baseUrl);
  }
  if (format === "atom") {
    const feed = runParser(() => parseAtomFeed(text), format);
    return finish(format, feed.title?.value, (feed.entries ?? []).map(atomRaw), baseUrl);
  }
  const feed = runParser(() => parseRdfFeed(text), format);
  return finish(format, feed.title, (feed.items ?? []).map(rdfRaw), baseUrl);
}

// ---------------------------------------------------------------------------------------------
// Decoding

const UTF8_BOM = [0xef, 0xbb, 0xbf];

function decodeBody(body: Buffer, contentType: string | undefined): string {
  // A BOM is unambiguous, whereas Content-Type charsets are often a server-wide default that is
  // wrong for the file; so (as in the WHATWG decode algorithm) a BOM wins over everything.
  const label = bomCharset(body) ?? headerCharset(contentType) ?? prologCharset(body) ?? "utf-8";
  let text: string;
  try {
    // Non-fatal: a few bad bytes become U+FFFD instead of losing the whole feed.
    text = new TextDecoder(label).decode(body);
  } catch (err) {
    throw new FeedError(`unsupported charset "${label}"`, "charset", { cause: err });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // The text is already decoded; drop the prolog's encoding so nothing downstream re-applies it.
  return text.replace(/^(\s*<\?xml\b[^>]*?)\s+encoding\s*=\s*(["'])[^"'>]*\2/, "$1");
}

function bomCharset(body: Buffer): string | undefined {
  if (UTF8_BOM.every((b, i) => body[i] === b)) return "utf-8";
  if (body[0] === 0xff && body[1] === 0xfe) return "utf-16le";
  if (body[0] === 0xfe && body[1] === 0xff) return "utf-16be";
  return undefined;
}

function headerCharset(contentType: string | undefined): string | undefined {
  const m = contentType ? /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType) : null;
  return m?.[1]?.trim() || undefined;
}

function prologCharset(body: Buffer): string | undefined {
  // The prolog is ASCII in every encoding we can read without a BOM, so latin1 is safe here.
  const head = body.subarray(0, 512).toString("latin1");
  const m = /^\s*<\?xml\b[^>]*?\bencoding\s*=\s*(["'])([^"'>]+)\1/.exec(head);
  return m?.[2]?.trim() || undefined;
}

// ---------------------------------------------------------------------------------------------
// XML safety and structure

/**
 * Rejects DTD internal subsets and entity declarations. feedsmith runs fast-xml-parser with
 * processEntities:false (custom entities are never expanded), but we refuse them up front so
 * a future parser/config change cannot reintroduce entity-expansion attacks.
 */
function assertNoDtd(xml: string): void {
  let i = 0;
  for (;;) {
    const lt = xml.indexOf("<!", i);
    if (lt === -1) return;
    // Comments and CDATA may legitimately mention "<!ENTITY"; skip them (unterminated ones are
    // the parser's problem, and nothing after them is markup anyway).
    if (xml.startsWith("<!--", lt)) {
      const end = xml.indexOf("-->", lt + 4);
      if (end === -1) return;
      i = end + 3;
      continue;
    }
    if (xml.startsWith("<![CDATA[", lt)) {
      const end = xml.indexOf("]]>", lt + 9);
      if (end === -1) return;
      i = end + 3;
      continue;
    }
    const keyword = xml.slice(lt + 2, lt + 9).toUpperCase();
    if (keyword.startsWith("ENTITY") || (keyword === "DOCTYPE" && hasInternalSubset(xml, lt + 9))) {
      throw new FeedError("DTD/entity declarations are not allowed", "unsafe");
    }
    i = lt + 2;
  }
}

function hasInternalSubset(xml: string, from: number): boolean {
  let quote: string | undefined;
  for (let i = from; i < xml.length; i++) {
    const c = xml[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === "[") {
      return true;
    } else if (c === ">") {
      return false;
    }
  }
  return false;
}

/** Name of the first element, skipping the prolog, comments, PIs and the doctype. */
function rootElement(xml: string): string | undefined {
  let i = 0;
  for (;;) {
    const lt = xml.indexOf("<", i);
    if (lt === -1) return undefined;
    const next = xml[lt + 1];
    if (next === "?") {
      i = xml.indexOf("?>", lt);
    } else if (xml.startsWith("<!--", lt)) {
      i = xml.indexOf("-->", lt);
    } else if (next === "!") {
      i = xml.indexOf(">", lt);
    } else {
      return /^<([A-Za-z_][\w.:-]*)/.exec(xml.slice(lt, lt + 200))?.[1];
    }
    if (i === -1) return undefined;
  }
}

function runParser<T>(fn: () => T, format: FeedFormat): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof MalformedError) {
      const detail = err.cause instanceof Error ? err.cause.message : err.message;
      throw new FeedError(`malformed XML: ${detail}`, "parse", { cause: err });
    }
    if (err instanceof DetectError) {
      throw new FeedError(`not a recognised feed format (${format} root without ${format} content)`, "not-a-feed", {
        cause: err,
      });
    }
    if (err instanceof ParseError) {
      throw new FeedError(`invalid ${format} document: ${err.message}`, "parse", { cause: err });
    }
    throw new FeedError(`feed parser failed: ${err instanceof Error ? err.message : String(err)}`, "parse", {
      cause: err,
    });
  }
}

function parseJson(text: string, baseUrl: string): ParsedFeed {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FeedError(`malformed JSON: ${err instanceof Error ? err.message : String(err)}`, "parse", {
      cause: err,
    });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new FeedError("not a recognised feed format: JSON is not an object", "not-a-feed");
  }
  const feed = runParser(() => parseJsonFeed(json), "json");
  return finish("json", feed.title, (feed.items ?? []).map(jsonRaw), baseUrl);
}

// ---------------------------------------------------------------------------------------------
// Per-format extraction into one intermediate shape

interface RawItem {
  guid?: string;
  /** URL candidates, best first (may be relative). */
  links: Array<string | undefined>;
  title?: string;
  /** HTML; the short form (description/summary) is preferred over full content. */
  summary?: string;
  content?: string;
  images: Array<string | undefined>;
  dates: Array<string | undefined>;
}

function rssRaw(item: RssFeed.Item<string>): RawItem {
  // A permalink guid (the RSS default) is the article URL when <link> is missing or unusable; but
  // only an absolute one: feeds often leave isPermaLink off opaque ids ("12345"), and resolving
  // those against the feed URL would send readers to a page that does not exist.
  const guidLink = item.guid && item.guid.isPermaLink !== false && /^\s*https?:\/\//i.test(item.guid.value ?? "") ? item.guid.value : undefined;
  return {
    guid: item.guid?.value,
    links: [item.link, guidLink],
    title: item.title,
    summary: item.description,
    content: item.content?.encoded,
    images: [...enclosureImages(item.enclosures), ...mediaImages(item.media)],
    dates: [item.pubDate, ...(item.dc?.dates ?? []), item.atom?.published, item.atom?.updated],
  };
}

function atomRaw(entry: AtomFeed.Entry<string>): RawItem {
  const links = entry.links ?? [];
  const alternate = links.filter((l) => (l.rel ?? "alternate") === "alternate");
  const html = alternate.find((l) => !l.type || /html/i.test(l.type));
  return {
    guid: entry.id,
    links: [html?.href, alternate[0]?.href, links[0]?.href],
    title: entry.title?.value,
    summary: entry.summary?.value,
    content: entry.content?.value,
    images: [
      ...links.filter((l) => l.rel === "enclosure" && isImageType(l.type)).map((l) => l.href),
      ...mediaImages(entry.media),
    ],
    dates: [entry.published, entry.updated, ...(entry.dc?.dates ?? [])],
  };
}

function rdfRaw(item: RdfFeed.Item<string>): RawItem {
  return {
    guid: item.rdf?.about,
    links: [item.link, item.rdf?.about],
    title: item.title,
    summary: item.description,
    content: item.content?.encoded,
    images: mediaImages(item.media),
    dates: [...(item.dc?.dates ?? []), ...(item.dcterms?.modified ?? [])],
  };
}

function jsonRaw(item: JsonFeed.Item<string>): RawItem {
  return {
    guid: item.id,
    links: [item.url, item.external_url],
    title: item.title,
    summary: item.summary ?? item.content_text,
    content: item.content_html ?? item.content_text,
    images: [
      item.image,
      item.banner_image,
      ...(item.attachments ?? []).filter((a) => isImageType(a.mime_type)).map((a) => a.url),
    ],
    dates: [item.date_published, item.date_modified],
  };
}

function enclosureImages(enclosures: RssFeed.Enclosure[] | undefined): Array<string | undefined> {
  return (enclosures ?? [])
    .filter((e) => isImageType(e.type) || (!e.type && looksLikeImageUrl(e.url)))
    .map((e) => e.url);
}

function mediaImages(media: MediaNs.ItemOrFeed | undefined): Array<string | undefined> {
  if (!media) return [];
  const contents = [...(media.contents ?? []), ...(media.groups ?? []).flatMap((g) => g.contents ?? [])];
  const images = contents
    .filter((c) => c.medium === "image" || isImageType(c.type) || (!c.medium && !c.type && looksLikeImageUrl(c.url)))
    .map((c) => c.url);
  const thumbnails = [
    ...(media.thumbnails ?? []),
    ...contents.flatMap((c) => c.thumbnails ?? []),
    ...(media.groups ?? []).flatMap((g) => g.thumbnails ?? []),
  ].map((t) => t.url);
  return [...images, ...thumbnails];
}

function isImageType(type: string | undefined): boolean {
  return type !== undefined && /^\s*image\//i.test(type);
}

function looksLikeImageUrl(url: string | undefined): boolean {
  return url !== undefined && /\.(?:jpe?g|png|gif|webp|avif)(?:[?#]|$)/i.test(url);
}

// ---------------------------------------------------------------------------------------------
// Normalisation

function finish(format: FeedFormat, title: string | undefined, raws: RawItem[], baseUrl: string): ParsedFeed {
  const items: FeedItem[] = [];
  const skipped: ParsedFeed["skipped"] = [];
  const seenGuids = new Set<string>();
  raws.forEach((raw, index) => {
    const result = normaliseItem(raw, baseUrl);
    if (typeof result === "string") {
      skipped.push({ reason: result, index });
      return;
    }
    if (result.guid !== undefined) {
      if (seenGuids.has(result.guid)) {
        skipped.push({ reason: "duplicate guid", index });
        return;
      }
      seenGuids.add(result.guid);
    }
    items.push(result);
  });
  const feedTitle = htmlToText(title);
  return { format, ...(feedTitle ? { title: feedTitle } : {}), items, skipped };
}

/** A FeedItem, or the reason the item is unusable. */
function normaliseItem(raw: RawItem, baseUrl: string): FeedItem | string {
  const url = firstHttpUrl(raw.links, baseUrl);
  if (!url) return "no usable http(s) url";

  let title = htmlToText(raw.title);
  const summary = truncateAtWord(htmlToText(raw.summary) || htmlToText(raw.content), MAX_SUMMARY_CHARS);
  if (!title && !summary) return "no title and no summary";
  if (!title) title = truncateAtWord(summary, DERIVED_TITLE_CHARS);

  const item: FeedItem = { url, title, summary };
  const guid = raw.guid?.trim();
  if (guid) item.guid = guid;
  const imageUrl = firstHttpUrl([...raw.images, ...imgSrcs(raw.summary), ...imgSrcs(raw.content)], baseUrl);
  if (imageUrl) item.imageUrl = imageUrl;
  for (const d of raw.dates) {
    const iso = parseDate(d);
    if (iso) {
      item.publishedAt = iso;
      break;
    }
  }
  return item;
}

function firstHttpUrl(candidates: Array<string | undefined>, baseUrl: string): string | undefined {
  for (const candidate of candidates) {
    const url = toHttpUrl(candidate, baseUrl);
    if (url) return url;
  }
  return undefined;
}

function toHttpUrl(raw: string | undefined, baseUrl: string): string | undefined {
  const trimmed = raw?.trim();
  if (!trimmed) return undefined;
  let url: URL;
  try {
    url = new URL(trimmed, baseUrl);
  } catch {
    try {
      url = new URL(trimmed); // an absolute link still works if baseUrl itself is unusable
    } catch {
      return undefined;
    }
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : undefined;
}

/** The first few <img src> values (a tracking pixel or data: URI may come before the real one). */
function imgSrcs(html: string | undefined): string[] {
  if (!html) return [];
  // No class may cross a "<", so unterminated tags cannot make this quadratic.
  const re = /<img\b[^<>]*?\ssrc\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)'|([^\s"'<>]+))/gi;
  const srcs: string[] = [];
  for (const m of html.slice(0, MAX_HTML_CHARS).matchAll(re)) {
    srcs.push(decodeEntities(m[1] ?? m[2] ?? m[3] ?? ""));
    if (srcs.length >= 5) break;
  }
  return srcs;
}

export function truncateAtWord(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(" ");
  // Cut at a word boundary unless that would throw away most of the text (one giant "word").
  const head = space > max * 0.6 ? cut.slice(0, space) : cut;
  return `${head.replace(/[\s.,;:!?\-–—]+$/u, "")}…`;
}

// ---------------------------------------------------------------------------------------------
// Dates

const MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec";
const RFC822_RE = new RegExp(
  `^(?:[a-z]{3,9},?\\s+)?\\d{1,2}\\s+(?:${MONTHS})[a-z]*\\.?\\s+\\d{2,4}` +
    `(?:\\s+\\d{1,2}:\\d{2}(?::\\d{2})?(?:\\s*(?:[+-]\\d{4}|gmt|utc?|z|[ecmp][sd]t))?)?$`,
  "i",
);
const ISO_RE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * ISO string for RFC 822 or ISO 8601 dates, else undefined. V8's Date parser is far too lenient
 * on its own (new Date("Article 12") is 2001-12-01), so only these two shapes are accepted.
 */
export function parseDate(raw: string | undefined): string | undefined {
  const s = raw?.trim().replace(/\s+/g, " ");
  if (!s) return undefined;
  let candidate: string | undefined;
  const iso = ISO_RE.exec(s);
  if (iso) {
    const [, day, time, zone] = iso;
    // No zone: assume UTC rather than the host's timezone, so results don't depend on the server.
    const tz = zone ? (zone.toUpperCase() === "Z" ? "Z" : `${zone.slice(0, 3)}:${zone.slice(-2)}`) : "Z";
    candidate = time ? `${day}T${time.replace(",", ".")}${tz}` : `${day}T00:00:00Z`;
  } else if (RFC822_RE.test(s)) {
    candidate = s;
  }
  if (candidate === undefined) return undefined;
  const ms = Date.parse(candidate);
  if (Number.isNaN(ms)) return undefined;
  const year = new Date(ms).getUTCFullYear();
  return year >= 1900 && year <= 2200 ? new Date(ms).toISOString() : undefined;
}

// ---------------------------------------------------------------------------------------------
// HTML → plain text

const BLOCK_TAGS = new Set([
  "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure",
  "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre",
  "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
]);
// The name lookahead and mutually exclusive alternatives keep this linear on hostile input
// (no quote may span a "<", so a failed match never scans past the next tag).
const TAG_RE = /<\/?([a-zA-Z][\w:.-]*)(?![\w:.-])(?:[^<>"']|"[^"<]*"|'[^'<]*')*>/g;
const DROP_WITH_CONTENT = ["script", "style", "noscript", "template"];

/** Strips tags (dropping script/style content), decodes entities, collapses whitespace. */
export function htmlToText(html: string | undefined): string {
  if (!html) return "";
  let s = html.length > MAX_HTML_CHARS ? html.slice(0, MAX_HTML_CHARS) : html;
  s = removeComments(s);
  s = removeElements(s, DROP_WITH_CONTENT);
  s = s.replace(TAG_RE, (_m, name: string) => (BLOCK_TAGS.has(name.toLowerCase()) ? " " : ""));
  s = s.replace(/<[!?][^<>]*>/g, " ");
  s = decodeEntities(s);
  return s
    .replace(/\s+/g, " ")
    .replace(/[\p{Cc}\u200B]/gu, "")
    .trim();
}

function removeComments(s: string): string {
  let out = "";
  let i = 0;
  for (;;) {
    const start = s.indexOf("<!--", i);
    if (start === -1) return out + s.slice(i);
    out += `${s.slice(i, start)} `;
    const end = s.indexOf("-->", start + 4);
    if (end === -1) return out;
    i = end + 3;
  }
}

/** Removes whole elements with their content; indexOf-based so unclosed tags stay linear. */
function removeElements(s: string, names: string[]): string {
  const lower = s.toLowerCase();
  const open = new RegExp(`<(${names.join("|")})(?![\\w:.-])`, "g");
  let out = "";
  let i = 0;
  for (;;) {
    open.lastIndex = i;
    const m = open.exec(lower);
    if (!m) return out + s.slice(i);
    out += `${s.slice(i, m.index)} `;
    const close = lower.indexOf(`</${m[1]}`, m.index + m[0].length);
    if (close === -1) return out; // unclosed: everything after it is script/style
    const gt = lower.indexOf(">", close);
    if (gt === -1) return out;
    i = gt + 1;
  }
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00A0", ensp: "\u2002", emsp: "\u2003",
  thinsp: "\u2009", shy: "", zwnj: "\u200C", zwj: "\u200D", laquo: "«", raquo: "»", lsaquo: "‹",
  rsaquo: "›", ldquo: "“", rdquo: "”", bdquo: "„", lsquo: "‘", rsquo: "’", sbquo: "‚", ndash: "–",
  mdash: "—", minus: "−", hellip: "…", middot: "·", bull: "•", deg: "°", copy: "©", reg: "®",
  trade: "™", euro: "€", pound: "£", yen: "¥", cent: "¢", sect: "§", para: "¶", plusmn: "±",
  times: "×", divide: "÷", frac12: "½", frac14: "¼", frac34: "¾", sup2: "²", sup3: "³", micro: "µ",
  permil: "‰", prime: "′", Prime: "″", larr: "←", rarr: "→", uarr: "↑", darr: "↓", numero: "№",
  iexcl: "¡", iquest: "¿", auml: "ä", Auml: "Ä", ouml: "ö", Ouml: "Ö", uuml: "ü", Uuml: "Ü",
  ccedil: "ç", Ccedil: "Ç", yacute: "ý", Yacute: "Ý", scedil: "ş", Scedil: "Ş", ncaron: "ň",
  Ncaron: "Ň", zcaron: "ž", Zcaron: "Ž", eacute: "é", Eacute: "É", egrave: "è", agrave: "à",
  aacute: "á", iacute: "í", oacute: "ó", uacute: "ú", ntilde: "ñ", szlig: "ß", gbreve: "ğ",
  Gbreve: "Ğ", inodot: "ı", Idot: "İ",
};

/** HTML entity decoding: numeric entities plus a table of common named ones (others stay as-is). */
export function decodeEntities(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/g, (m, dec, hex, name) => {
    if (name !== undefined) return NAMED_ENTITIES[name as string] ?? m;
    const cp = dec !== undefined ? Number.parseInt(dec as string, 10) : Number.parseInt(hex as string, 16);
    const valid = cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
    return valid ? String.fromCodePoint(cp) : "\uFFFD";
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
