import type { MessageEntity } from "grammy/types";
import { escapeHtml } from "./format.ts";

function tags(e: MessageEntity): [string, string] | undefined {
  switch (e.type) {
    case "bold":
      return ["<b>", "</b>"];
    case "italic":
      return ["<i>", "</i>"];
    case "underline":
      return ["<u>", "</u>"];
    case "strikethrough":
      return ["<s>", "</s>"];
    case "spoiler":
      return ["<tg-spoiler>", "</tg-spoiler>"];
    case "code":
      return ["<code>", "</code>"];
    case "pre":
      return e.language ? [`<pre><code class="language-${escapeHtml(e.language)}">`, "</code></pre>"] : ["<pre>", "</pre>"];
    case "text_link":
      return /^https?:\/\//i.test(e.url) || /^tg:\/\//i.test(e.url) ? [`<a href="${escapeHtml(e.url)}">`, "</a>"] : undefined;
    case "blockquote":
      return ["<blockquote>", "</blockquote>"];
    case "expandable_blockquote":
      return ["<blockquote expandable>", "</blockquote>"];
    case "custom_emoji":
      return [`<tg-emoji emoji-id="${escapeHtml(e.custom_emoji_id)}">`, "</tg-emoji>"];
    default:
      // url, mention, hashtag…: Telegram detects them again in the plain text.
      return undefined;
  }
}

/**
 * Turns a message's text + entities (what an editor typed, formatting included) into Telegram
 * HTML, so a broadcast goes through the same HTML pipeline as articles. Offsets are UTF-16, like
 * JavaScript strings, so they index the text directly.
 */
export function entitiesToHtml(text: string, entities: readonly MessageEntity[] = []): string {
  const spans = entities
    .map((e) => ({ e, t: tags(e) }))
    .filter((x): x is { e: MessageEntity; t: [string, string] } => x.t !== undefined && x.e.length > 0)
    .sort((a, b) => a.e.offset - b.e.offset || b.e.length - a.e.length);
  let out = "";
  let pos = 0;
  const open: Array<{ end: number; close: string }> = [];
  const closeUntil = (at: number) => {
    while (open.length && (open[open.length - 1]?.end ?? Infinity) <= at) {
      const top = open.pop()!;
      out += escapeHtml(text.slice(pos, top.end)) + top.close;
      pos = top.end;
    }
  };
  for (const { e, t } of spans) {
    closeUntil(e.offset);
    // Telegram forbids a link inside a link; keep the outer one.
    if (e.type === "text_link" && open.some((o) => o.close === "</a>")) continue;
    out += escapeHtml(text.slice(pos, e.offset)) + t[0];
    pos = e.offset;
    // An entity that overlaps its parent's end is cut at it, keeping the HTML well-formed.
    const parentEnd = open[open.length - 1]?.end ?? Infinity;
    open.push({ end: Math.min(e.offset + e.length, parentEnd), close: t[1] });
  }
  closeUntil(Infinity);
  return out + escapeHtml(text.slice(pos));
}
