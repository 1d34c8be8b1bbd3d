import type { Article } from "./article.ts";

/** Telegram's limits, counted in UTF-16 code units of the text after entity parsing. */
export const TELEGRAM_TEXT_LIMIT = 4096;
export const TELEGRAM_CAPTION_LIMIT = 1024;

export interface FormatOptions {
  /** Topic id -> display title. Accepted for callers that have it; hashtags are built from ids, not titles. */
  topicTitles?: Record<string, string>;
  /** Last line of the message; rendered as a link when `url` is given. */
  footer?: { text: string; url?: string };
  /** Default true: let Telegram show a preview of the article link (text messages only). */
  linkPreview?: boolean;
  /** Prefix of the title line (e.g. "⚡ BREAKING") when `article.priority === "breaking"`. */
  breakingLabel?: string;
}

export interface LinkPreviewOptions {
  is_disabled?: boolean;
  url?: string;
  prefer_large_media?: boolean;
}

export type TextMessage = {
  kind: "text";
  text: string;
  parse_mode: "HTML";
  link_preview_options: LinkPreviewOptions;
};

export type PhotoMessage = { kind: "photo"; photo: string; caption: string; parse_mode: "HTML" };

export type OutgoingMessage = TextMessage | PhotoMessage;

/** Thrown when a link is not an absolute http(s) URL; such a link must never reach an href. */
export class UnsafeLinkError extends Error {
  constructor(what: string, url: string) {
    super(`${what} is not an http(s) URL: ${JSON.stringify(url.slice(0, 200))}`);
    this.name = "UnsafeLinkError";
  }
}

/** Escapes text for Telegram HTML; `"` too, so the same function is safe for attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;"));
}

/**
 * Hashtag for a topic id ("digital-economy" -> "#digital_economy"), or undefined when nothing
 * usable is left. Telegram only links hashtags made of letters, digits and "_" with at least one
 * non-digit, so anything else is dropped rather than producing a half-linked tag.
 */
export function topicHashtag(topicId: string): string | undefined {
  const body = topicId
    .normalize("NFC")
    .replace(/[\s-]+/gu, "_")
    .replace(/[^\p{L}\p{N}_]/gu, "")
    .replace(/_+/g, "_")
    .replace(/^_|_$/g, "");
  return /\p{L}/u.test(body) ? `#${body}` : undefined;
}

/** Formats an article: a photo with caption when it has a usable image, else a text message. */
export function formatArticle(article: Article, opts: FormatOptions = {}): OutgoingMessage {
  const photo = article.imageUrl === undefined ? undefined : safeHref(article.imageUrl);
  // A bad image URL should not lose the article: fall back to text instead of throwing.
  if (photo) {
    return { kind: "photo", photo, caption: render(article, opts, TELEGRAM_CAPTION_LIMIT), parse_mode: "HTML" };
  }
  return formatAsText(article, opts);
}

/** The text-message form, also used as the fallback when Telegram refuses the photo. */
export function formatAsText(article: Article, opts: FormatOptions = {}): TextMessage {
  const text = render(article, opts, TELEGRAM_TEXT_LIMIT);
  return {
    kind: "text",
    text,
    parse_mode: "HTML",
    link_preview_options:
      opts.linkPreview === false ? { is_disabled: true } : { url: articleHref(article), prefer_large_media: true },
  };
}

// ---------------------------------------------------------------------------------------------

/** HTML and the visible text it produces, built side by side so length is known by construction. */
interface Chunk {
  html: string;
  plain: string;
}

const text = (s: string): Chunk => ({ html: escapeHtml(s), plain: s });
const bold = (c: Chunk): Chunk => ({ html: `<b>${c.html}</b>`, plain: c.plain });
const link = (href: string, c: Chunk): Chunk => ({
  html: `<a href="${escapeHtml(href)}">${c.html}</a>`,
  plain: c.plain,
});
const concat = (cs: Chunk[], sep = ""): Chunk => ({
  html: cs.map((c) => c.html).join(escapeHtml(sep)),
  plain: cs.map((c) => c.plain).join(sep),
});

const BLOCK_SEP = "\n\n";
const ELLIPSIS = "…";
/** The title keeps at least this much room; hashtags and the footer are dropped first. */
const TITLE_RESERVE = 256;
const LABEL_MAX = 64;
/** Below this much room a trimmed summary is noise; leave it out. */
const MIN_SUMMARY = 24;

function articleHref(article: Article): string {
  const href = safeHref(article.url);
  if (href === undefined) throw new UnsafeLinkError("article url", article.url);
  return href;
}

function render(article: Article, opts: FormatOptions, limit: number): string {
  const href = articleHref(article);
  let footerUrl: string | undefined;
  if (opts.footer?.url !== undefined && opts.footer.url.trim() !== "") {
    footerUrl = safeHref(opts.footer.url);
    if (footerUrl === undefined) throw new UnsafeLinkError("footer url", opts.footer.url);
  }

  // An empty link text would make Telegram drop the link (and maybe leave an empty message).
  const fullTitle = bounded(article.title, oneLine, limit) || href;
  const summary = bounded(article.summary, paragraphs, limit);
  const rawLabel = article.priority === "breaking" ? oneLine(opts.breakingLabel ?? "") : "";
  const label = rawLabel ? trimAtWord(rawLabel, LABEL_MAX) : "";
  const labelLen = label ? label.length + 1 : 0;

  const hashtags = unique(article.topics.map(topicHashtag).filter((t): t is string => t !== undefined));
  const footerText = oneLine(opts.footer?.text ?? "");
  let footer: Chunk | undefined;
  if (footerText) footer = footerUrl ? link(footerUrl, text(footerText)) : text(footerText);

  const metaLen = (): number => {
    const lines = [hashtags.join(" "), footer?.plain ?? ""].filter((l) => l !== "");
    return lines.length === 0 ? 0 : BLOCK_SEP.length + lines.join("\n").length;
  };
  // Only pathological configs (dozens of topics, a huge footer) get here; the article comes first.
  const reserve = Math.min(fullTitle.length, TITLE_RESERVE);
  while (labelLen + metaLen() + reserve > limit) {
    if (hashtags.length > 0) hashtags.pop();
    else if (footer) footer = undefined;
    else break;
  }

  const fixed = labelLen + metaLen();
  const title = trimAtWord(fullTitle, limit - fixed);

  const blocks: Chunk[] = [];
  const titleLine = link(href, bold(text(title)));
  blocks.push(label ? concat([bold(text(label)), titleLine], " ") : titleLine);

  // Feeds often repeat the title as the summary; showing it twice is noise.
  if (summary && summary !== fullTitle) {
    const room = limit - fixed - title.length - BLOCK_SEP.length;
    if (summary.length <= room) blocks.push(text(summary));
    else if (room >= MIN_SUMMARY) blocks.push(text(trimAtWord(summary, room)));
  }

  const meta: Chunk[] = [];
  if (hashtags.length > 0) meta.push(text(hashtags.join(" ")));
  if (footer) meta.push(footer);
  if (meta.length > 0) blocks.push(concat(meta, "\n"));

  const out = concat(blocks, BLOCK_SEP);
  // Guaranteed by the budget above; checked so a future layout change fails loudly, not at Telegram.
  if (out.plain.length > limit) {
    throw new Error(`formatted message is ${out.plain.length} > ${limit} visible characters`);
  }
  return out.html;
}

/**
 * The href to emit for `url`, or undefined unless it is an absolute http(s) URL. The scheme is
 * checked on the raw (trimmed) text as well as after parsing, because the URL parser silently
 * drops leading control characters and would turn "\u0001javascript:…" into something else. The
 * text is kept as given (so the link is exactly the article's URL) unless it holds whitespace or
 * control characters, which only the parser's serialisation encodes safely.
 */
function safeHref(url: string): string | undefined {
  const s = url.trim();
  if (!/^https?:\/\//i.test(s)) return undefined;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return undefined;
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.hostname === "") return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must not pass raw
  return /[\s\u0000-\u001f\u007f]/.test(s) ? u.href : s;
}

/**
 * Lone surrogates cannot be encoded as UTF-8 for the Bot API and control characters are invisible
 * or rejected, so both are cleaned before anything is measured.
 */
function sanitize(s: string): string {
  return (
    s
      .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
      // eslint-disable-next-line no-control-regex -- stripping control characters is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "")
  );
}

/**
 * `normalize(raw)`, but only as much of it as a message of `limit` characters can use. Feeds may
 * hand over whole articles as the summary; normalising megabytes per message costs real time.
 * Normalisation only changes the text near where the input is clipped, so a clipped result that is
 * still comfortably longer than `limit` agrees with the full one everywhere trimming looks.
 */
function bounded(raw: string, normalize: (s: string) => string, limit: number): string {
  const window = (limit + 8) * 4;
  if (raw.length > window) {
    const head = normalize(raw.slice(0, window));
    if (head.length > limit + 8) return head;
  }
  return normalize(raw);
}

/** Title-like text: one line, single spaces. */
function oneLine(s: string): string {
  return sanitize(s).replace(/\s+/gu, " ").trim();
}

/** Summary text: keeps paragraph breaks, collapses other whitespace. */
function paragraphs(s: string): string {
  return sanitize(s)
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((line) => line.replace(/\s+/gu, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * Shortens `s` to at most `max` UTF-16 code units including a trailing "…". Cuts before the last
 * whitespace that fits; a single overlong word is cut at a grapheme boundary instead, so a
 * surrogate pair, an emoji ZWJ sequence, a flag or a letter with its combining marks is never split
 * (a grapheme that does not fit at all is left out).
 */
export function trimAtWord(s: string, max: number): string {
  if (s.length <= max) return s;
  if (max < ELLIPSIS.length) return "";
  const cut = max - ELLIPSIS.length;

  // Whitespace at or before `cut` means everything before it is whole words. A boundary far back
  // would waste most of the room; then a hard cut reads better.
  let end = -1;
  for (let i = cut; i > 0 && i >= cut / 2; i--) {
    if (/\s/u.test(s.charAt(i))) {
      end = i;
      break;
    }
  }
  if (end < 0) end = graphemeStartAt(s, cut);

  const head = s.slice(0, end);
  return (head.replace(/[\s,;:.\-–—]+$/u, "") || head.trimEnd()) + ELLIPSIS;
}

/**
 * Start of the grapheme containing code unit `i`, i.e. the last grapheme boundary <= i. Whether a
 * position is a boundary depends only on the text before it and the code point at it, so only
 * that prefix is segmented: V8's segmenter costs grow with the whole input, which may be huge.
 */
function graphemeStartAt(s: string, i: number): number {
  return graphemes.segment(s.slice(0, i + 2)).containing(i)?.index ?? i;
}

/**
 * An editor's broadcast goes out exactly as composed: its HTML is already Telegram HTML, built from
 * the editor's own message entities. The fallback (refused photo) sends the caption as text.
 */
export function formatBroadcast(body: { html: string; photo?: string }): { message: OutgoingMessage; fallback: OutgoingMessage } {
  const text: TextMessage = { kind: "text", text: body.html || "…", parse_mode: "HTML", link_preview_options: { is_disabled: false } };
  if (!body.photo) return { message: text, fallback: text };
  return { message: { kind: "photo", photo: body.photo, caption: body.html, parse_mode: "HTML" }, fallback: text };
}
