/**
 * A faithful-but-strict model of Telegram's `parse_mode: "HTML"` parser.
 *
 * It follows tdlib's `parse_html` (the code the Bot API server runs): same tag set, same attribute
 * grammar, same error texts ("Unsupported start tag ...", "Unmatched end tag ...", ...), byte
 * offsets in UTF-8 and entity offsets/lengths in UTF-16 code units (= JS string indices).
 *
 * Where Telegram is lenient about things its docs forbid, this parser is deliberately strict so
 * that formatter bugs surface in tests instead of rendering oddly in production:
 *  - an `&` that does not start `&lt;` `&gt;` `&amp;` `&quot;` `&#NN;` `&#xHH;` (with the `;`) is an
 *    error (Telegram would print it literally);
 *  - `<a>` must carry a non-empty `href` (Telegram would fall back to the link text);
 *  - `<a>` inside `<a>` is an error.
 * Entities nested inside `code`/`pre` and blockquotes inside blockquotes are dropped, as Telegram
 * does (they are not errors there).
 */

export interface TelegramEntity {
  type: string;
  offset: number;
  length: number;
  url?: string;
  language?: string;
  custom_emoji_id?: string;
}

export interface ParsedTelegramHtml {
  text: string;
  entities: TelegramEntity[];
}

/** Thrown by {@link parseTelegramHtml}; `message` is the reason Telegram puts after "can't parse entities: ". */
export class TelegramHtmlError extends Error {
  override name = "TelegramHtmlError";
}

const ALLOWED_TAGS = new Set([
  "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
  "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
]);

const SIMPLE_TYPES: Record<string, string> = {
  b: "bold", strong: "bold",
  i: "italic", em: "italic",
  u: "underline", ins: "underline",
  s: "strikethrough", strike: "strikethrough", del: "strikethrough",
  "tg-spoiler": "spoiler", span: "spoiler",
};

interface OpenTag {
  tag: string;
  /** href / language / spoiler class / emoji id, depending on the tag. */
  argument: string;
  expandable: boolean;
  offset: number;
  /** Index into the entity list when the tag opened: everything after it was closed inside. */
  entityIndex: number;
  depth: number;
}

interface InternalEntity extends TelegramEntity {
  depth: number;
}

// tdlib's is_space; the end of input counts as well (it reads the C string's NUL terminator).
function isSpace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\r" || ch === "\n" || ch === "\v" || ch === "\f" || ch === "\0" || ch === "";
}

function isNameTokenChar(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 45 || code === 46;
}

function byteOffset(s: string, index: number): number {
  return Buffer.byteLength(s.slice(0, index), "utf8");
}

/**
 * Decodes the entity starting at `pos` (which holds `&`). Returns the decoded text and the index
 * after the entity, or undefined if it is not one of the entities Telegram recognises.
 */
function decodeEntity(s: string, pos: number): { value: string; end: number } | undefined {
  const semi = s.indexOf(";", pos + 1);
  // Longest legal form is "&#1114111;" / "&#x10FFFF;"; anything longer cannot be an entity.
  if (semi < 0 || semi - pos > 10) return undefined;
  const body = s.slice(pos + 1, semi);
  let value: string | undefined;
  switch (body) {
    case "lt": value = "<"; break;
    case "gt": value = ">"; break;
    case "amp": value = "&"; break;
    case "quot": value = "\""; break;
    default: {
      let cp = Number.NaN;
      if (/^#[0-9]+$/.test(body)) cp = Number.parseInt(body.slice(1), 10);
      else if (/^#x[0-9a-fA-F]+$/.test(body)) cp = Number.parseInt(body.slice(2), 16);
      // tdlib rejects 0 and >= 0x10FFFF; surrogates would produce invalid UTF-8, so reject those too.
      if (cp > 0 && cp < 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) value = String.fromCodePoint(cp);
    }
  }
  return value === undefined ? undefined : { value, end: semi + 1 };
}

function entityError(s: string, pos: number): TelegramHtmlError {
  const m = /^&(#x[0-9a-fA-F]*|#[0-9]*|[a-zA-Z]*);?/.exec(s.slice(pos, pos + 12));
  const shown = m && m[0].length > 1 ? m[0] : "&";
  return shown === "&"
    ? new TelegramHtmlError(`Unescaped "&" at byte offset ${byteOffset(s, pos)}; use "&amp;"`)
    : new TelegramHtmlError(`Unsupported HTML entity "${shown}" at byte offset ${byteOffset(s, pos)}`);
}

export function parseTelegramHtml(html: string): ParsedTelegramHtml {
  const n = html.length;
  const chunks: string[] = [];
  let outLen = 0;
  const entities: InternalEntity[] = [];
  const stack: OpenTag[] = [];
  // Number of open code/pre/blockquote/a tags; lets the hot path avoid scanning the stack.
  let openCode = 0;
  let openQuote = 0;
  let openLink = 0;
  const at = (k: number): string => (k < n ? html[k]! : "");

  let i = 0;
  while (i < n) {
    const code = html.charCodeAt(i);
    if (code !== 38 /* & */ && code !== 60 /* < */) {
      // Copy the run of plain text in one go.
      let j = i + 1;
      while (j < n) {
        const c = html.charCodeAt(j);
        if (c === 38 || c === 60) break;
        j++;
      }
      chunks.push(html.slice(i, j));
      outLen += j - i;
      i = j;
      continue;
    }
    if (code === 38) {
      const dec = decodeEntity(html, i);
      if (!dec) throw entityError(html, i);
      chunks.push(dec.value);
      outLen += dec.value.length;
      i = dec.end;
      continue;
    }

    const begin = i;
    i++;
    if (at(i) !== "/") {
      // Start tag.
      while (!isSpace(at(i)) && at(i) !== ">") i++;
      if (i >= n) throw new TelegramHtmlError(`Unclosed start tag at byte offset ${byteOffset(html, begin)}`);
      const tag = html.slice(begin + 1, i).toLowerCase();
      if (!ALLOWED_TAGS.has(tag)) {
        throw new TelegramHtmlError(`Unsupported start tag "${tag}" at byte offset ${byteOffset(html, begin)}`);
      }

      let argument = "";
      let hasHref = false;
      let expandable = false;
      while (at(i) !== ">") {
        while (i < n && isSpace(at(i))) i++;
        if (at(i) === ">") break;
        const nameBegin = i;
        while (!isSpace(at(i)) && at(i) !== "=" && at(i) !== ">") i++;
        const attrName = html.slice(nameBegin, i);
        if (attrName === "") {
          throw new TelegramHtmlError(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(html, begin)}`);
        }
        while (i < n && isSpace(at(i))) i++;
        if (at(i) !== "=") {
          // The only valueless attribute Telegram knows.
          if (tag === "blockquote" && attrName === "expandable") {
            expandable = true;
            continue;
          }
          throw new TelegramHtmlError(
            `Expected equal sign in declaration of an attribute of the tag "${tag}" at byte offset ${byteOffset(html, begin)}`,
          );
        }
        i++;
        while (i < n && isSpace(at(i))) i++;
        if (i >= n) throw new TelegramHtmlError(`Unclosed start tag "${tag}" at byte offset ${byteOffset(html, begin)}`);

        let value: string;
        const quote = at(i);
        if (quote !== "'" && quote !== "\"") {
          // An unquoted name token: letters, digits, '.', '-'; case-insensitive.
          const tokenBegin = i;
          while (i < n && isNameTokenChar(html.charCodeAt(i))) i++;
          value = html.slice(tokenBegin, i).toLowerCase();
          if (!isSpace(at(i)) && at(i) !== ">") {
            throw new TelegramHtmlError(`Unexpected end of name token at byte offset ${byteOffset(html, tokenBegin)}`);
          }
        } else {
          i++;
          const parts: string[] = [];
          while (i < n && at(i) !== quote) {
            if (at(i) === "&") {
              const dec = decodeEntity(html, i);
              if (!dec) throw entityError(html, i);
              parts.push(dec.value);
              i = dec.end;
              continue;
            }
            parts.push(at(i));
            i++;
          }
          if (at(i) === quote) i++;
          value = parts.join("");
        }
        if (i >= n) throw new TelegramHtmlError(`Unclosed start tag at byte offset ${byteOffset(html, begin)}`);

        const name = attrName.toLowerCase();
        if (tag === "a" && name === "href") {
          argument = value;
          hasHref = true;
        } else if (tag === "code" && name === "class" && value.startsWith("language-")) {
          argument = value.slice("language-".length);
        } else if (tag === "span" && name === "class" && value.startsWith("tg-")) {
          argument = value.slice(3);
        } else if (tag === "tg-emoji" && name === "emoji-id") {
          argument = value;
        } else if (tag === "blockquote" && name === "expandable") {
          expandable = true;
        }
        // Other attributes are ignored, as Telegram does.
      }
      i++; // '>'

      if (tag === "span" && argument !== "spoiler") {
        throw new TelegramHtmlError(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(html, begin)}`);
      }
      if (tag === "a") {
        if (!hasHref || argument.trim() === "") {
          throw new TelegramHtmlError(`Tag "a" must have a non-empty attribute "href" at byte offset ${byteOffset(html, begin)}`);
        }
        if (openLink > 0) {
          throw new TelegramHtmlError(`Nested "a" tags are not allowed at byte offset ${byteOffset(html, begin)}`);
        }
        openLink++;
      }
      if (tag === "code" || tag === "pre") openCode++;
      if (tag === "blockquote") openQuote++;
      stack.push({ tag, argument, expandable, offset: outLen, entityIndex: entities.length, depth: stack.length });
      continue;
    }

    // End tag.
    if (stack.length === 0) throw new TelegramHtmlError(`Unexpected end tag at byte offset ${byteOffset(html, begin)}`);
    i++; // '/'
    const nameBegin = i;
    while (!isSpace(at(i)) && at(i) !== ">") i++;
    const endName = html.slice(nameBegin, i);
    while (i < n && isSpace(at(i))) i++;
    if (at(i) !== ">") throw new TelegramHtmlError(`Unclosed end tag at byte offset ${byteOffset(html, begin)}`);
    i++;
    const open = stack.pop()!;
    // tdlib compares the end tag name case-sensitively against the lower-cased start tag; `</>` closes anything.
    if (endName !== "" && endName !== open.tag) {
      throw new TelegramHtmlError(
        `Unmatched end tag at byte offset ${byteOffset(html, begin)}, expected "</${open.tag}>", found "</${endName}>"`,
      );
    }
    if (open.tag === "a") openLink--;
    if (open.tag === "code" || open.tag === "pre") openCode--;
    if (open.tag === "blockquote") openQuote--;

    const length = outLen - open.offset;
    if (length <= 0) continue;
    const offset = open.offset;
    const depth = open.depth;
    const parent = stack[stack.length - 1];

    if (open.tag === "code" || open.tag === "pre") {
      // Nothing may live inside code/pre: drop inner entities, except a full-range <code class="language-x">
      // directly inside <pre>, which turns the pre into a pre with a language.
      const inner = entities.splice(open.entityIndex);
      if (openCode > 0) {
        // Only a code directly inside pre survives, and only until the pre decides.
        if (open.tag === "code" && parent?.tag === "pre" && stack.filter((t) => t.tag === "code" || t.tag === "pre").length === 1) {
          entities.push({ type: "code", offset, length, language: open.argument, depth });
        }
        continue;
      }
      if (open.tag === "pre") {
        const only = inner.length === 1 ? inner[0] : undefined;
        if (only && only.type === "code" && only.offset === offset && only.length === length && only.language) {
          entities.push({ type: "pre", offset, length, language: only.language, depth });
        } else {
          entities.push({ type: "pre", offset, length, depth });
        }
      } else {
        entities.push({ type: "code", offset, length, depth });
      }
      continue;
    }
    if (openCode > 0) continue; // inside code/pre: dropped by the enclosing tag anyway

    const simple = SIMPLE_TYPES[open.tag];
    if (simple) {
      entities.push({ type: simple, offset, length, depth });
    } else if (open.tag === "a") {
      entities.push({ type: "text_link", offset, length, url: open.argument, depth });
    } else if (open.tag === "tg-emoji") {
      if (!/^[0-9]+$/.test(open.argument) || /^0+$/.test(open.argument)) {
        throw new TelegramHtmlError("Invalid custom emoji identifier specified");
      }
      entities.push({ type: "custom_emoji", offset, length, custom_emoji_id: open.argument, depth });
    } else if (open.tag === "blockquote") {
      if (openQuote > 0) continue; // blockquotes can't nest; Telegram keeps only the outer one
      entities.push({ type: open.expandable ? "expandable_blockquote" : "blockquote", offset, length, depth });
    }
  }

  if (stack.length > 0) {
    throw new TelegramHtmlError(`Can't find end tag corresponding to start tag "${stack[stack.length - 1]!.tag}"`);
  }

  // Telegram returns entities ordered by offset, outer (longer / earlier opened) first.
  entities.sort((a, b) => a.offset - b.offset || b.length - a.length || a.depth - b.depth);
  const result: TelegramEntity[] = entities.map(({ depth: _depth, ...e }) => {
    if (e.language === undefined || e.language === "") delete e.language;
    return e;
  });
  return { text: chunks.join(""), entities: result };
}

/** Escapes text for Telegram HTML (the inverse of entity decoding). */
export function escapeTelegramHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;"));
}
