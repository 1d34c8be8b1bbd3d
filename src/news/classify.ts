export interface TopicKeywords {
  id: string;
  keywords: string[];
}

export type Classifier = (text: string) => string[];

/**
 * Word characters for the boundary checks. `\b` only knows ASCII, so "ашхабад" or "ýurt" would
 * get boundaries inside words. Marks count as word characters so a decomposed "ň" (n + U+030C)
 * is not split.
 */
const WORD = String.raw`[\p{L}\p{N}\p{M}]`;

/**
 * Builds a keyword classifier. The returned function gives the ids of the topics whose keywords
 * occur in the text as whole words or phrases, case-insensitively, in catalog order, without
 * duplicates. Keywords are literal text (never patterns); whitespace inside a phrase matches any
 * run of whitespace, so "digital economy" also matches across a line break.
 */
export function createClassifier(topics: TopicKeywords[]): Classifier {
  // Compiled once here; the returned function only runs them. No `g` flag, so no lastIndex state.
  const matchers: Array<{ id: string; re: RegExp }> = [];
  for (const topic of topics) {
    const alternatives = unique(
      topic.keywords
        .map((k) => k.normalize("NFC").trim())
        .filter((k) => k !== "")
        .map((k) => k.split(/\s+/u).map(escapeRegExp).join(String.raw`\s+`)),
    );
    if (alternatives.length === 0) continue;
    // `u` + `i` uses Unicode simple case folding: "TURKMEN" ~ "turkmen", "АШХАБАД" ~ "ашхабад".
    const re = new RegExp(`(?<!${WORD})(?:${alternatives.join("|")})(?!${WORD})`, "iu");
    matchers.push({ id: topic.id, re });
  }

  return (text: string): string[] => {
    // NFC on both sides so precomposed and decomposed Turkmen letters compare equal.
    const normalized = text.normalize("NFC");
    const ids = new Set<string>();
    for (const { id, re } of matchers) {
      if (!ids.has(id) && re.test(normalized)) ids.add(id);
    }
    return [...ids];
  };
}

/**
 * Escapes the pattern syntax characters. Only these: `u` mode rejects needless escapes such as
 * `\-`, and keywords are never placed inside a character class.
 */
function escapeRegExp(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
