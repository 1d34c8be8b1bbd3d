import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { entitiesToHtml } from "../src/news/entities-to-html.ts";
import { parseTelegramHtml } from "./support/telegram-html.ts";

describe("entitiesToHtml", () => {
  it("keeps an editor's formatting and escapes the text", () => {
    const text = "Breaking: gas <deal> & more. Read here";
    const html = entitiesToHtml(text, [
      { type: "bold", offset: 0, length: 9 },
      { type: "italic", offset: 10, length: 3 },
      { type: "text_link", offset: 34, length: 4, url: "https://news.example.org/a?b=1&c=2" },
    ]);
    expect(html).toBe('<b>Breaking:</b> <i>gas</i> &lt;deal&gt; &amp; more. Read <a href="https://news.example.org/a?b=1&amp;c=2">here</a>');
    const parsed = parseTelegramHtml(html);
    expect(parsed.text).toBe(text);
  });

  it("nests entities and drops links that are not http(s)", () => {
    const html = entitiesToHtml("abc def", [
      { type: "bold", offset: 0, length: 7 },
      { type: "italic", offset: 4, length: 3 },
      { type: "text_link", offset: 0, length: 3, url: "javascript:alert(1)" },
    ]);
    expect(html).toBe("<b>abc <i>def</i></b>");
  });

  it("always yields valid Telegram HTML with the same visible text", () => {
    const entity = (len: number) =>
      fc.record({
        type: fc.constantFrom("bold", "italic", "underline", "strikethrough", "spoiler", "code", "text_link", "url"),
        offset: fc.nat({ max: Math.max(0, len - 1) }),
        length: fc.integer({ min: 1, max: Math.max(1, len) }),
      });
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 60 }).chain((s) => fc.tuple(fc.constant(s), fc.array(entity(s.length), { maxLength: 5 }))),
        ([text, raw]) => {
          // Telegram entities never overlap partially: keep a properly nested subset.
          const sorted = raw
            .map((e) => ({ ...e, length: Math.min(e.length, text.length - e.offset) }))
            .filter((e) => e.length > 0)
            .sort((a, b) => a.offset - b.offset || b.length - a.length);
          const nested: typeof sorted = [];
          for (const e of sorted) {
            const ok = nested.every((p) => e.offset >= p.offset + p.length || (e.offset >= p.offset && e.offset + e.length <= p.offset + p.length));
            if (ok) nested.push(e);
          }
          const entities = nested.map((e) => (e.type === "text_link" ? { ...e, type: "text_link" as const, url: "https://x.org/?a=1&b=<2>" } : e)) as Parameters<typeof entitiesToHtml>[1];
          const html = entitiesToHtml(text, entities);
          const parsed = parseTelegramHtml(html);
          expect(parsed.text).toBe(text);
        },
      ),
      { numRuns: 300 },
    );
  });
});
