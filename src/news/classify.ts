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
  // A repeated id is one topic: its keywords are merged and it keeps its first catalog position.
  const keywordsById = new Map<string, string[]>();
  for (const topic of topics) {
    const known = keywordsById.get(topic.id);
    if (known) known.push(...topic.keywords);
    else keywordsById.set(topic.id, [...topic.keywords]);
  }

  // Compiled once here; the returned function only runs them. No `g` flag, so no lastIndex state.
  const matchers: Array<{ id: string; re: RegExp }> = [];
  for (const [id, keywords] of keywordsById) {
    const alternatives = unique(
      keywords
        .map((k) => k.normalize("NFC").trim())
        .filter((k) => k !== "")
        .map((k) => k.split(/\s+/u).map(escapeRegExp).join(String.raw`\s+`)),
    );
    if (alternatives.length === 0) continue;
    // `u` + `i` uses Unicode simple case folding: "TURKMEN" ~ "turkmen", "АШХАБАД" ~ "ашхабад".
    const re = new RegExp(`(?<!${WORD})(?:${alternatives.join("|")})(?!${WORD})`, "iu");
    matchers.push({ id, re });
  }

  return (text: string): string[] => {
    // NFC on both sides so precomposed and decomposed Turkmen letters compare equal.
    const normalized = text.normalize("NFC");
    return matchers.filter(({ re }) => re.test(normalized)).map(({ id }) => id);
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
