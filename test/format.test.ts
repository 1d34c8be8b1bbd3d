import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Article } from "../src/news/article.ts";
import {
  TELEGRAM_CAPTION_LIMIT,
  TELEGRAM_TEXT_LIMIT,
  UnsafeLinkError,
  formatArticle,
  formatAsText,
  topicHashtag,
  trimAtWord,
  type FormatOptions,
  type OutgoingMessage,
} from "../src/news/format.ts";

// --- a deliberately tiny, strict reader of the HTML subset the formatter may emit -----------------

interface Parsed {
  visible: string;
  links: Array<{ href: string; text: string }>;
}

const ENTITIES: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"' };

function decode(s: string): string {
  // Every "&" must start one of the four entities; anything else means double or missing escaping.
  const bad = s.replace(/&(?:lt|gt|amp|quot);/g, "");
  if (/[&<>"]/.test(bad)) throw new Error(`unescaped character in ${JSON.stringify(s)}`);
  return s.replace(/&(?:lt|gt|amp|quot);/g, (e) => ENTITIES[e] ?? e);
}

/** Tokenises tags and entities; throws on anything outside the allowed subset or on imbalance. */
function parseHtml(html: string): Parsed {
  const tokens = html.match(/<[^>]*>|[^<]+/g) ?? [];
  if (tokens.join("") !== html) throw new Error("unterminated tag");
  const stack: string[] = [];
  const links: Parsed["links"] = [];
  let visible = "";
  let linkStart = -1;
  for (const tok of tokens) {
    if (!tok.startsWith("<")) {
      visible += decode(tok);
      continue;
    }
    const a = /^<a href="([^"<>]*)">$/.exec(tok);
    if (tok === "<b>" || a) {
      const tag = a ? "a" : "b";
      if (stack.includes(tag)) throw new Error(`nested <${tag}>`);
      stack.push(tag);
      if (a) {
        links.push({ href: decode(a[1] ?? ""), text: "" });
        linkStart = visible.length;
      }
    } else if (tok === "</b>" || tok === "</a>") {
      const tag = tok.slice(2, 3);
      if (stack.pop() !== tag) throw new Error(`unbalanced ${tok}`);
      if (tag === "a") {
        const last = links[links.length - 1];
        if (last) last.text = visible.slice(linkStart);
      }
    } else {
      throw new Error(`unexpected tag ${tok}`);
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join(">, <")}>`);
  return { visible, links };
}

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function htmlOf(m: OutgoingMessage): string {
  return m.kind === "text" ? m.text : m.caption;
}

function article(over: Partial<Article> = {}): Article {
  return {
    id: "0123456789abcdef",
    url: "https://example.com/news/1",
    title: "Title",
    summary: "",
    topics: [],
    priority: "normal",
    source: { kind: "cms" },
    ingestedAt: 0,
    ...over,
  };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// --- examples ------------------------------------------------------------------------------------

describe("formatArticle", () => {
  it("formats a text message with title link, summary, hashtags and footer", () => {
    const m = formatArticle(
      article({
        title: "Digital economy forum opens",
        summary: "Delegates from 20 countries.",
        topics: ["digital-economy", "e-government"],
      }),
      { footer: { text: "Agency", url: "https://agency.example/" } },
    );
    expect(m).toEqual({
      kind: "text",
      parse_mode: "HTML",
      text:
        '<a href="https://example.com/news/1"><b>Digital economy forum opens</b></a>\n\n' +
        "Delegates from 20 countries.\n\n" +
        "#digital_economy #e_government\n" +
        '<a href="https://agency.example/">Agency</a>',
      link_preview_options: { url: "https://example.com/news/1", prefer_large_media: true },
    });
  });

  it("disables the link preview when asked", () => {
    const m = formatArticle(article(), { linkPreview: false });
    expect(m.kind === "text" && m.link_preview_options).toEqual({ is_disabled: true });
  });

  it("escapes every text field and the href, including entity-looking text", () => {
    const m = formatArticle(
      article({
        url: "https://example.com/a?x=1&y=2",
        title: 'A & B <i>"quoted"</i> &amp;',
        summary: "1 < 2 > 0 & &lt;",
      }),
      { footer: { text: "<Footer & Co>" } },
    );
    expect(htmlOf(m)).toBe(
      '<a href="https://example.com/a?x=1&amp;y=2"><b>A &amp; B &lt;i&gt;&quot;quoted&quot;&lt;/i&gt; &amp;amp;</b></a>\n\n' +
        "1 &lt; 2 &gt; 0 &amp; &amp;lt;\n\n" +
        "&lt;Footer &amp; Co&gt;",
    );
    expect(parseHtml(htmlOf(m)).links[0]?.href).toBe("https://example.com/a?x=1&y=2");
  });

  it("uses a photo with a caption when the article has an image", () => {
    const m = formatArticle(article({ imageUrl: "https://img.example/p.jpg", summary: "Body" }), {});
    expect(m).toEqual({
      kind: "photo",
      photo: "https://img.example/p.jpg",
      caption: '<a href="https://example.com/news/1"><b>Title</b></a>\n\nBody',
      parse_mode: "HTML",
    });
  });

  it("falls back to text when the image url is not http(s)", () => {
    expect(formatArticle(article({ imageUrl: "javascript:alert(1)" }), {}).kind).toBe("text");
    expect(formatArticle(article({ imageUrl: "file:///etc/passwd" }), {}).kind).toBe("text");
  });

  it("formatAsText ignores the image", () => {
    const m = formatAsText(article({ imageUrl: "https://img.example/p.jpg" }), {});
    expect(m.kind).toBe("text");
    expect(m.link_preview_options).toEqual({ url: "https://example.com/news/1", prefer_large_media: true });
  });

  it.each([
    "javascript:alert(1)",
    " javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "\u0001javascript:alert(1)",
    "data:text/html,<script>",
    "ftp://example.com/",
    "https://exa mple.com/",
    "//example.com/",
    "https://",
    "not a url",
  ])("refuses the article url %j", (url) => {
    expect(() => formatArticle(article({ url }), {})).toThrow(UnsafeLinkError);
  });

  it("accepts what the URL parser accepts, emitting whitespace only in encoded form", () => {
    const padded = formatAsText(article({ url: " https://example.com/a?x=1 " }), {});
    expect(parseHtml(padded.text).links[0]?.href).toBe("https://example.com/a?x=1");
    expect(padded.link_preview_options.url).toBe("https://example.com/a?x=1");
    const spaced = formatAsText(article({ url: "https://example.com/a b\tc" }), {});
    expect(spaced.text).toContain('<a href="https://example.com/a%20bc">');
    expect(spaced.link_preview_options.url).toBe("https://example.com/a%20bc");
    const photo = formatArticle(article({ imageUrl: " https://img.example/p.jpg\n" }), {});
    expect(photo.kind === "photo" && photo.photo).toBe("https://img.example/p.jpg");
  });

  it("refuses a non-http(s) footer url", () => {
    expect(() => formatArticle(article(), { footer: { text: "x", url: "javascript:alert(1)" } })).toThrow(
      UnsafeLinkError,
    );
  });

  it("prefixes the breaking label only for breaking articles", () => {
    const opts: FormatOptions = { breakingLabel: "⚡ BREAKING" };
    expect(htmlOf(formatArticle(article({ priority: "breaking" }), opts))).toBe(
      '<b>⚡ BREAKING</b> <a href="https://example.com/news/1"><b>Title</b></a>',
    );
    expect(htmlOf(formatArticle(article(), opts))).toBe('<a href="https://example.com/news/1"><b>Title</b></a>');
    expect(htmlOf(formatArticle(article({ priority: "breaking" }), {}))).toBe(
      '<a href="https://example.com/news/1"><b>Title</b></a>',
    );
  });

  it("renders a footer without url as plain text and skips an empty one", () => {
    expect(htmlOf(formatArticle(article(), { footer: { text: "  Agency  " } }))).toMatch(/\n\nAgency$/);
    expect(htmlOf(formatArticle(article(), { footer: { text: "   ", url: "https://a.example/" } }))).not.toContain(
      "a.example",
    );
  });

  it("uses the url as link text when the title is empty", () => {
    const p = parseHtml(htmlOf(formatArticle(article({ title: "  " }), {})));
    expect(p.links[0]).toEqual({ href: "https://example.com/news/1", text: "https://example.com/news/1" });
  });

  it("collapses whitespace in the title and keeps summary paragraphs", () => {
    const m = formatArticle(article({ title: " A \n B\t C ", summary: "p1  line\r\n\r\n\r\n\r\np2 " }), {});
    expect(parseHtml(htmlOf(m)).visible).toBe("A B C\n\np1 line\n\np2");
  });

  it("omits a summary that repeats the title", () => {
    expect(parseHtml(htmlOf(formatArticle(article({ summary: " Title " }), {}))).visible).toBe("Title");
  });

  it("removes control characters and lone surrogates", () => {
    const m = formatArticle(article({ title: "A\u0000B\uD800C", summary: "x\u0007y" }), {});
    expect(parseHtml(htmlOf(m)).visible).toBe("AB\uFFFDC\n\nxy");
  });

  it("trims a long summary at a word boundary so the text fits 4096", () => {
    const summary = Array.from({ length: 2000 }, (_, i) => `word${i}`).join(" ");
    const m = formatArticle(article({ summary, topics: ["energy"] }), { footer: { text: "Agency" } });
    const { visible } = parseHtml(htmlOf(m));
    expect(visible.length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
    expect(visible.length).toBeGreaterThan(TELEGRAM_TEXT_LIMIT - 20);
    const body = visible.split("\n\n")[1] ?? "";
    expect(body).toMatch(/ word\d+…$/);
    expect(summary.startsWith(body.slice(0, -1) + " ")).toBe(true);
    expect(visible.endsWith("\n\n#energy\nAgency")).toBe(true);
  });

  it("counts visible characters, not escaped HTML, against the caption limit", () => {
    // Each "&" is 5 characters of HTML but 1 visible one: the summary must not be over-trimmed.
    const m = formatArticle(article({ imageUrl: "https://img.example/p.jpg", summary: "&".repeat(2000) }), {});
    const { visible } = parseHtml(htmlOf(m));
    expect(visible.length).toBeLessThanOrEqual(TELEGRAM_CAPTION_LIMIT);
    expect(visible.length).toBeGreaterThan(TELEGRAM_CAPTION_LIMIT - 5);
  });

  it("handles huge, whitespace-heavy inputs like small ones", () => {
    const gap = formatArticle(article({ summary: `a${" ".repeat(100_000)}b` }), {});
    expect(parseHtml(htmlOf(gap)).visible).toBe("Title\n\na b");
    const summary = " \n".repeat(50_000) + "word ".repeat(100_000);
    const { visible } = parseHtml(htmlOf(formatArticle(article({ summary }), {})));
    expect(visible.length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
    expect(visible).toMatch(/^Title\n\n(word )+word…$/);
    expect(visible.length).toBeGreaterThan(TELEGRAM_TEXT_LIMIT - 10);
  });

  it("trims an overlong title and drops the summary", () => {
    const title = "Ашхабад ".repeat(1000);
    const m = formatArticle(article({ title, summary: "summary", imageUrl: "https://img.example/p.jpg" }), {});
    const { visible, links } = parseHtml(htmlOf(m));
    expect(visible.length).toBeLessThanOrEqual(TELEGRAM_CAPTION_LIMIT);
    expect(links[0]?.text).toMatch(/^(Ашхабад )+Ашхабад…$/);
    expect(visible).toBe(links[0]?.text);
  });

  it("drops hashtags that do not fit rather than the title", () => {
    const topics = Array.from({ length: 300 }, (_, i) => `topic-number-${i}`);
    const m = formatArticle(article({ imageUrl: "https://img.example/p.jpg", title: "T ".repeat(60), topics }), {});
    const { visible } = parseHtml(htmlOf(m));
    expect(visible.length).toBeLessThanOrEqual(TELEGRAM_CAPTION_LIMIT);
    expect(visible.startsWith("T ".repeat(59) + "T\n\n#topic_number_0 ")).toBe(true);
  });
});

describe("topicHashtag", () => {
  it.each([
    ["digital-economy", "#digital_economy"],
    ["e-government", "#e_government"],
    ["Türkmenistan", "#Türkmenistan"],
    ["энергетика", "#энергетика"],
    ["a b--c", "#a_b_c"],
    ["c++/.net", "#cnet"],
    ["5g", "#5g"],
    ["2024", undefined],
    ["---", undefined],
    ["", undefined],
  ])("%j -> %j", (id, tag) => {
    expect(topicHashtag(id)).toBe(tag);
  });

  it("dedupes topics that map to the same hashtag", () => {
    const m = formatArticle(article({ topics: ["a-b", "a_b", "a b"] }), {});
    expect(parseHtml(htmlOf(m)).visible).toBe("Title\n\n#a_b");
  });
});

describe("trimAtWord", () => {
  it("returns short text unchanged", () => {
    expect(trimAtWord("short", 5)).toBe("short");
  });

  it("cuts before the last word that fits and drops trailing punctuation", () => {
    expect(trimAtWord("alpha beta, gamma delta", 18)).toBe("alpha beta, gamma…");
    expect(trimAtWord("alpha beta, gamma delta", 17)).toBe("alpha beta…");
  });

  it("hard-cuts a single long word at a grapheme boundary", () => {
    expect(trimAtWord("😀😀😀😀", 4)).toBe("😀…"); // 3 units of room: one emoji, not one and a half
    expect(trimAtWord("👨‍👩‍👧👨‍👩‍👧", 10)).toBe("👨‍👩‍👧…");
    expect(trimAtWord("abcdef", 4)).toBe("abc…");
    expect(trimAtWord("🇹🇲🇹🇲", 3)).toBe("…"); // half a flag would be a different symbol
  });
});

// --- properties ----------------------------------------------------------------------------------

const piece = fc.oneof(
  fc.constantFrom(
    "<", ">", "&", '"', "'", "&amp;", "&lt;", "&#39;", "&quot;", "<b>", "</a>", '<a href="javascript:alert(1)">',
    " ", "  ", "\n", "\t", "\n\n\n", "😀", "👨‍👩‍👧", "🇹🇲", "e\u0301", "ň", "Aşgabat", "Ашхабад", "—", ".", ",", "…",
    "x".repeat(120), "word",
  ),
  fc.string({ unit: "grapheme-ascii", maxLength: 12 }),
  fc.string({ unit: "grapheme", maxLength: 6 }),
);

const noControls = (s: string): string =>
  // eslint-disable-next-line no-control-regex -- the generator must not produce what the formatter strips
  s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, "");

const richText = fc
  .oneof(
    { weight: 3, arbitrary: fc.array(piece, { maxLength: 40 }).map((a) => a.join("")) },
    { weight: 1, arbitrary: fc.array(piece, { maxLength: 800 }).map((a) => a.join("")) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.array(piece, { minLength: 1, maxLength: 10 }), fc.integer({ min: 50, max: 400 }))
        .map(([a, n]) => a.join("").repeat(n)),
    },
  )
  .map(noControls);

const httpUrl = fc.oneof(
  fc.webUrl({ validSchemes: ["http", "https"], withQueryParameters: true, withFragments: true }),
  fc.constantFrom('https://example.com/?q="a"&b=<c>', "http://x.example/a&amp;b", "https://ex.tm/Ашхабад?ä=1#frag"),
);

const topicsArb = fc.array(
  fc.oneof(fc.constantFrom("digital-economy", "e-government", "energy", "türkmenistan", "5g"), fc.string({ maxLength: 30 })),
  { maxLength: 80 },
);

const inputArb = fc.record({
  title: richText,
  summary: richText,
  url: httpUrl,
  topics: topicsArb,
  breaking: fc.boolean(),
  label: fc.constantFrom(undefined, "", "⚡ BREAKING", "🔴 <Срочно> & \"live\"", "L".repeat(200)),
  footer: fc.option(
    fc.record({ text: richText, url: fc.option(httpUrl, { nil: undefined }) }, { requiredKeys: ["text"] }),
    { nil: undefined },
  ),
  linkPreview: fc.option(fc.boolean(), { nil: undefined }),
});

type Input = typeof inputArb extends fc.Arbitrary<infer T> ? T : never;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
/**
 * Whether `pos` is a grapheme boundary of `s`. A boundary depends only on the text before it and
 * the code point at it, so a short prefix suffices (segmenting huge strings is slow in V8).
 */
function isGraphemeBoundary(s: string, pos: number): boolean {
  if (pos === 0 || pos === s.length) return true;
  for (const { index } of segmenter.segment(s.slice(0, pos + 2))) if (index === pos) return true;
  return false;
}

/** How often the generated inputs hit the interesting cases, so the properties cannot pass vacuously. */
interface Coverage {
  nearLimit: number;
  titleTrimmed: number;
}

function checkMessage(m: OutgoingMessage, input: Input, limit: number, seen: Coverage): void {
  const html = htmlOf(m);
  const { visible, links } = parseHtml(html);

  expect(visible.length).toBeLessThanOrEqual(limit);
  if (visible.length > limit - 64) seen.nearLimit++;
  expect(LONE_SURROGATE.test(visible)).toBe(false);

  expect(links[0]?.href).toBe(input.url);
  expect(html).toContain(`<a href="${esc(input.url)}"><b>`);

  const fullTitle = input.title.replace(/\s+/gu, " ").trim() || input.url;
  const shown = links[0]?.text ?? "";
  if (shown !== fullTitle) {
    seen.titleTrimmed++;
    // Trimmed: a prefix of the title that ends on a grapheme boundary, plus the ellipsis.
    expect(shown.endsWith("…")).toBe(true);
    const head = shown.slice(0, -1);
    expect(fullTitle.startsWith(head)).toBe(true);
    expect(isGraphemeBoundary(fullTitle, head.length)).toBe(true);
  }
  const label = input.breaking ? (input.label ?? "").replace(/\s+/gu, " ").trim() : "";
  const prefix = label ? `${trimAtWord(label, 64)} ` : "";
  expect(visible.startsWith(prefix + shown)).toBe(true);
}

function toArticle(input: Input, imageUrl?: string): Article {
  return article({
    title: input.title,
    summary: input.summary,
    url: input.url,
    topics: input.topics,
    priority: input.breaking ? "breaking" : "normal",
    ...(imageUrl ? { imageUrl } : {}),
  });
}

function toOpts(input: Input): FormatOptions {
  return { breakingLabel: input.label, footer: input.footer, linkPreview: input.linkPreview };
}

describe("formatArticle properties", () => {
  it("text messages are well-formed, safe and fit 4096 visible characters", () => {
    const seen: Coverage = { nearLimit: 0, titleTrimmed: 0 };
    fc.assert(
      fc.property(inputArb, (input) => {
        const m = formatArticle(toArticle(input), toOpts(input));
        expect(m.kind).toBe("text");
        checkMessage(m, input, TELEGRAM_TEXT_LIMIT, seen);
      }),
      { numRuns: 300 },
    );
    expect(seen.nearLimit).toBeGreaterThan(10);
    expect(seen.titleTrimmed).toBeGreaterThan(5);
  });

  it("photo captions are well-formed, safe and fit 1024 visible characters", () => {
    const seen: Coverage = { nearLimit: 0, titleTrimmed: 0 };
    fc.assert(
      fc.property(inputArb, (input) => {
        const m = formatArticle(toArticle(input, "https://img.example/p.jpg"), toOpts(input));
        expect(m.kind).toBe("photo");
        checkMessage(m, input, TELEGRAM_CAPTION_LIMIT, seen);
      }),
      { numRuns: 300 },
    );
    expect(seen.nearLimit).toBeGreaterThan(10);
    expect(seen.titleTrimmed).toBeGreaterThan(5);
  });

  it("trimAtWord respects the limit and never splits a grapheme", () => {
    fc.assert(
      fc.property(richText, fc.integer({ min: 1, max: 5000 }), (s, max) => {
        const out = trimAtWord(s, max);
        expect(out.length).toBeLessThanOrEqual(max);
        if (out === s) return;
        expect(out.endsWith("…")).toBe(true);
        const head = out.slice(0, -1);
        expect(s.startsWith(head)).toBe(true);
        expect(isGraphemeBoundary(s, head.length)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
