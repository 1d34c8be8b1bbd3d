import { createHash } from "node:crypto";

/** Query parameters that identify a campaign or click, never the article. Matched case-insensitively. */
const TRACKING_PARAMS = new Set(["fbclid", "gclid", "yclid", "mc_cid", "mc_eid"]);

function isTrackingParam(name: string): boolean {
  const n = name.toLowerCase();
  return n.startsWith("utm_") || TRACKING_PARAMS.has(n);
}

/**
 * Canonical form of an article URL, for dedupe: https scheme (http and https are treated as the
 * same page), lowercase host without "www." or a trailing dot, no default port, no credentials,
 * no fragment, no tracking parameters, remaining parameters sorted by name (stable, so repeated
 * names keep their order), no trailing slash except for the root path, percent-escapes in
 * uppercase. Idempotent. Throws on invalid or non-http(s) URLs.
 */
export function normalizeUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new Error(`invalid URL: ${JSON.stringify(url.slice(0, 200))}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new Error(`not an http(s) URL: ${JSON.stringify(url.slice(0, 200))}`);
  }

  // The parser already lowercases the host, punycodes IDNs and drops the scheme's own default port;
  // 80 and 443 are dropped for either scheme because both end up as https.
  let host = u.hostname.replace(/\.+$/, "");
  // Loop so the result is idempotent; keep "www.com"-like hosts that would lose their domain.
  while (/^www\.[^.]+\./.test(host)) host = host.slice(4);
  if (host === "") throw new Error(`URL has no host: ${JSON.stringify(url.slice(0, 200))}`);
  const port = u.port === "" || u.port === "80" || u.port === "443" ? "" : `:${u.port}`;

  const path = upperEscapes(u.pathname.replace(/\/+$/, "")) || "/";

  const params = [...u.searchParams].filter(([name]) => !isTrackingParam(name));
  // Code-unit order, not localeCompare, so the result does not depend on the machine's locale.
  params.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = new URLSearchParams(params).toString();

  return `https://${host}${port}${path}${query ? `?${query}` : ""}`;
}

/**
 * A feed guid as a dedupe key: trimmed; when it looks like an http(s) URL it is normalised like
 * one (many feeds use the permalink as guid). Guids that merely resemble URLs but do not parse are
 * kept as trimmed text: a guid is an opaque id, not something to reject.
 */
export function normalizeGuid(guid: string): string {
  const g = guid.trim();
  if (/^https?:\/\//i.test(g)) {
    try {
      return normalizeUrl(g);
    } catch {
      return g;
    }
  }
  return g;
}

/**
 * Article id: the first 16 hex characters (64 bits) of the SHA-256 of the normalised key. The key
 * is normalised here (via `normalizeGuid`, which is idempotent and covers URLs), so passing a raw
 * or an already normalised URL gives the same id.
 */
export function articleIdFor(key: string): string {
  const normalized = normalizeGuid(key);
  if (normalized === "") throw new Error("article key is empty");
  return createHash("sha256").update(normalized, "utf8").digest("hex").slice(0, 16);
}

function upperEscapes(s: string): string {
  return s.replace(/%[0-9a-f]{2}/gi, (m) => m.toUpperCase());
}
