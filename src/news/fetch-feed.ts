import { FeedError } from "./parse-feed.ts";

export { FeedError } from "./parse-feed.ts";
export type { FeedErrorCode } from "./parse-feed.ts";

export interface FetchFeedOptions {
  /** Validators from the previous successful fetch, for a conditional GET. */
  etag?: string;
  lastModified?: string;
  /** Whole-operation budget: every redirect hop and the body read. */
  timeoutMs: number;
  /** Cap on the decoded (decompressed) body. */
  maxBytes: number;
  maxRedirects: number;
  userAgent?: string;
  fetchImpl?: typeof fetch;
}

export type FetchResult =
  | { status: "not-modified"; finalUrl: string }
  | { status: "ok"; finalUrl: string; body: Buffer; contentType?: string; etag?: string; lastModified?: string };

export const DEFAULT_USER_AGENT = "newsbot/0.1 (feed fetcher)";

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const ACCEPT =
  "application/rss+xml, application/atom+xml, application/feed+json, application/rdf+xml;q=0.9, " +
  "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/**
 * GETs a feed, following redirects by hand (so each hop is scheme-checked and counted) and
 * reading the body under a byte cap. Throws FeedError with code "bad-url", "http", "timeout",
 * "too-large", "too-many-redirects" or "network".
 */
export async function fetchFeed(url: string, opts: FetchFeedOptions): Promise<FetchResult> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  const signal = AbortSignal.timeout(opts.timeoutMs);
  const headers: Record<string, string> = {
    "user-agent": opts.userAgent ?? DEFAULT_USER_AGENT,
    accept: ACCEPT,
  };
  if (opts.etag) headers["if-none-match"] = opts.etag;
  if (opts.lastModified) headers["if-modified-since"] = opts.lastModified;

  let current = toHttpUrl(url);
  const visited = new Set([current.href]);
  try {
    for (let redirects = 0; ; redirects++) {
      const res = await fetchImpl(current.href, { method: "GET", headers, redirect: "manual", signal });

      if (REDIRECT_STATUSES.has(res.status)) {
        discard(res);
        const location = res.headers.get("location");
        if (!location) {
          throw new FeedError(`HTTP ${res.status} redirect without a Location header`, "http", { status: res.status });
        }
        const next = toHttpUrl(location, current);
        if (visited.has(next.href)) throw new FeedError(`redirect loop via ${next.href}`, "too-many-redirects");
        if (redirects >= opts.maxRedirects) {
          throw new FeedError(`more than ${opts.maxRedirects} redirects`, "too-many-redirects");
        }
        visited.add(next.href);
        current = next;
        continue;
      }

      if (res.status === 304) {
        discard(res);
        return { status: "not-modified", finalUrl: current.href };
      }
      if (res.status < 200 || res.status > 299) {
        discard(res);
        const text = res.statusText ? ` ${res.statusText}` : "";
        throw new FeedError(`HTTP ${res.status}${text}`, "http", { status: res.status });
      }

      const body = await readCapped(res, opts.maxBytes);
      const result: FetchResult = { status: "ok", finalUrl: current.href, body };
      const contentType = res.headers.get("content-type");
      const etag = res.headers.get("etag");
      const lastModified = res.headers.get("last-modified");
      if (contentType) result.contentType = contentType;
      if (etag) result.etag = etag;
      if (lastModified) result.lastModified = lastModified;
      return result;
    }
  } catch (err) {
    throw toFeedError(err, signal, opts.timeoutMs);
  }
}

async function readCapped(res: Response, maxBytes: number): Promise<Buffer> {
  // Content-Length counts encoded bytes; if even those exceed the cap, the decoded body will too.
  const declared = res.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > maxBytes) {
    discard(res);
    throw new FeedError(`body of ${declared} bytes exceeds the ${maxBytes}-byte limit`, "too-large");
  }
  if (!res.body) return Buffer.alloc(0);

  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      // Stop the transfer now rather than downloading the rest of an oversized/endless body.
      reader.cancel().catch(() => undefined);
      throw new FeedError(`body exceeds the ${maxBytes}-byte limit`, "too-large");
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** Releases the connection without waiting for (or reading) an unwanted body. */
function discard(res: Response): void {
  res.body?.cancel().catch(() => undefined);
}

function toHttpUrl(raw: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch (err) {
    throw new FeedError(`invalid URL: ${raw}`, "bad-url", { cause: err });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new FeedError(`unsupported URL scheme ${url.protocol} (${url.href})`, "bad-url");
  }
  return url;
}

function toFeedError(err: unknown, signal: AbortSignal, timeoutMs: number): FeedError {
  if (err instanceof FeedError) return err;
  // Checked first: an abort surfaces as assorted errors (AbortError, TimeoutError, "terminated").
  if (signal.aborted) return new FeedError(`no complete response within ${timeoutMs} ms`, "timeout", { cause: err });
  return new FeedError(`network error: ${describeCause(err)}`, "network", { cause: err });
}

/** undici wraps the useful part ("connect ECONNREFUSED ...") in `cause` of a bare "fetch failed". */
function describeCause(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    parts.push(current.message);
    current = current.cause;
  }
  if (parts.length === 0) return String(err);
  return parts.length > 1 && parts[0] === "fetch failed" ? parts.slice(1).join(": ") : parts.join(": ");
}
