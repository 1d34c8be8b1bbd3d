/**
 * Property: whatever a feed or the CMS hands over (markup, entities, emoji, huge texts, odd URLs),
 * formatArticle / formatAsText produce Telegram HTML that the emulator's parser (a model of
 * Telegram's own, test/support/telegram-html.ts) accepts, within Telegram's limits counted on the
 * parsed text, with the title linked to exactly the article's URL.
 * (test/format.test.ts checks layout with its own small tokenizer; this one asks Telegram's parser.)
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Article } from "../../src/news/article.ts";
import { formatArticle, formatAsText, type FormatOptions, type OutgoingMessage } from "../../src/news/format.ts";
import { parseTelegramHtml, type TelegramEntity } from "../support/telegram-html.ts";

const TEXT_LIMIT = 4096;
const CAPTION_LIMIT = 1024;

/** Pieces that look like markup, entities or tricky Unicode, mixed with random text. */
const piece = fc.oneof(
  fc.constantFrom(
    "<", ">", "&", '"', "'", "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#x1F600;", "&#0;", "&nbsp;", "&lol;", "&",
    "<b>", "</b>", "<i>x</i>", "<a href=\"https://evil.example/\">", "</a>", "<script>alert(1)</script>", "<tg-spoiler>",
    "<span class=\"tg-spoiler\">", "<pre><code class=\"language-js\">", "</code></pre>", "<blockquote expandable>", "<br/>",
    "<!-- c -->", "<![CDATA[x]]>", "javascript:alert(1)", " ", "\n", "\n\n\n", "\t", "\u00a0", "\u200b", "\u2028",
    "😀", "👨‍👩‍👧", "🇹🇲", "e\u0301", "Ашхабад", "Aşgabat", "…", "—", "#hashtag", "@user", "https://t.me/x", "x".repeat(300),
  ),
  fc.string({ unit: "grapheme", maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 4 }),
);

const text = fc.oneof(
  { weight: 4, arbitrary: fc.array(piece, { maxLength: 30 }).map((a) => a.join("")) },
  { weight: 1, arbitrary: fc.array(piece, { maxLength: 400 }).map((a) => a.join("")) },
  { weight: 1, arbitrary: fc.tuple(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.integer({ min: 100, max: 2_000 })).map(([a, n]) => a.join("").repeat(n)) },
);

/** URLs the ingest path lets through: http(s), with queries, fragments, markup-ish and non-ASCII characters. */
const url = fc.oneof(
  fc.webUrl({ validSchemes: ["http", "https"], withQueryParameters: true, withFragments: true }),
  fc.constantFrom(
    'https://news.example.org/a?q="x"&y=<z>',
    "https://news.example.org/a?x=1&amp;y=2",
    "https://ex.tm/Ашхабад?ä=1#frag",
    "http://news.example.org/%3Cscript%3E",
    "https://news.example.org/a'b",
    "HTTPS://NEWS.EXAMPLE.ORG/UPPER",
    "https://news.example.org/" + "p".repeat(1_500),
  ),
);

const input = fc.record({
  title: text,
  summary: text,
  url,
  image: fc.option(url, { nil: undefined }),
  topics: fc.array(fc.oneof(fc.constantFrom("energy", "digital-economy", "5g", "türkmenistan"), fc.string({ maxLength: 20 })), { maxLength: 40 }),
  breaking: fc.boolean(),
  label: fc.constantFrom(undefined, "⚡ BREAKING", "<Срочно> & \"live\"", "L".repeat(100)),
  footer: fc.option(fc.record({ text, url: fc.option(url, { nil: undefined }) }, { requiredKeys: ["text"] }), { nil: undefined }),
});
type Input = typeof input extends fc.Arbitrary<infer T> ? T : never;

function article(i: Input, withImage: boolean): Article {
  return {
    id: "0123456789abcdef",
    url: i.url,
    title: i.title,
    summary: i.summary,
    topics: i.topics,
    priority: i.breaking ? "breaking" : "normal",
    source: { kind: "cms" },
    ingestedAt: 0,
    ...(withImage && i.image ? { imageUrl: i.image } : {}),
  };
}
const options = (i: Input): FormatOptions => ({ breakingLabel: i.label, footer: i.footer });

/** What Telegram shows: parsed, then trimmed (entities move with the text), as the emulator does. */
function asTelegramShows(m: OutgoingMessage): { text: string; entities: TelegramEntity[] } {
  const parsed = parseTelegramHtml(m.kind === "text" ? m.text : m.caption);
  const start = parsed.text.length - parsed.text.trimStart().length;
  const text = parsed.text.trim();
  return { text, entities: parsed.entities.map((e) => ({ ...e, offset: e.offset - start })) };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function check(m: OutgoingMessage, i: Input, limit: number, seen: { near: number; markup: number }) {
  const html = m.kind === "text" ? m.text : m.caption;
  if (/[<&]/.test(i.title)) seen.markup++;
  // 1. Valid Telegram HTML (parseTelegramHtml throws what Telegram would answer 400 with).
  const shown = asTelegramShows(m);
  // 2. Within the limit, counted on the parsed text; a text message is never empty.
  expect(shown.text.length).toBeLessThanOrEqual(limit);
  if (m.kind === "text") expect(shown.text.length).toBeGreaterThan(0);
  if (shown.text.length > limit - 50) seen.near++;
  expect(LONE_SURROGATE.test(shown.text)).toBe(false);
  // 3. Only the formatter's own entities: the input's markup always arrives as text.
  for (const e of shown.entities) expect(["bold", "text_link"]).toContain(e.type);
  // 4. The first link is the title's, to exactly the article's URL (as given, trimmed).
  const links = shown.entities.filter((e) => e.type === "text_link");
  expect(links[0]?.url).toBe(i.url.trim());
  const titleLink = links[0]!;
  const linked = shown.text.slice(titleLink.offset, titleLink.offset + titleLink.length);
  expect(linked.length).toBeGreaterThan(0);
  // Any other link is the footer's.
  for (const l of links.slice(1)) expect(l.url).toBe(i.footer?.url?.trim());
  // The HTML itself carries no raw control characters or tags beyond the formatter's.
  expect(html).not.toMatch(/<(?!\/?(?:a|b)[ >])/);
}

describe("formatter property: the emulator's Telegram HTML parser accepts every message", () => {
  it("text messages (formatAsText): valid, ≤ 4096 visible characters, title linked to the article url", () => {
    const seen = { near: 0, markup: 0 };
    fc.assert(
      fc.property(input, (i) => {
        check(formatAsText(article(i, false), options(i)), i, TEXT_LIMIT, seen);
      }),
      { numRuns: 400 },
    );
    // The generator really reaches the limit and really feeds markup in.
    expect(seen.near).toBeGreaterThan(20);
    expect(seen.markup).toBeGreaterThan(100);
  });

  it("photo captions (formatArticle with an image): valid, ≤ 1024 visible characters, title linked to the article url", () => {
    const seen = { near: 0, markup: 0 };
    let photos = 0;
    fc.assert(
      fc.property(input, (i) => {
        const m = formatArticle(article(i, true), options(i));
        if (m.kind === "photo") photos++;
        check(m, i, m.kind === "photo" ? CAPTION_LIMIT : TEXT_LIMIT, seen);
      }),
      { numRuns: 400 },
    );
    expect(photos).toBeGreaterThan(100);
    expect(seen.near).toBeGreaterThan(20);
  });
});
