import { createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FeedError, fetchFeed } from "../src/news/fetch-feed.ts";
import type { FetchFeedOptions } from "../src/news/fetch-feed.ts";
import { createFeedServer } from "./support/feed-server.ts";

const RSS = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Türkmenistan Today</title>
<item><title>Ашхабад: новости дня</title><link>https://news.example.tm/1</link></item>
</channel></rss>`;

// Generous budget for tests that must not time out (two busy workers on a small box);
// the timeout tests use SHORT instead.
const OPTS: FetchFeedOptions = { timeoutMs: 5000, maxBytes: 64 * 1024, maxRedirects: 3 };
const SHORT: FetchFeedOptions = { ...OPTS, timeoutMs: 300 };

const server = createFeedServer();

beforeAll(async () => {
  await server.start();
  // Node loads undici on the first fetch(); pay that once here, not inside a 300 ms budget.
  server.setRoute("/warmup", { body: "ok" });
  await fetch(server.url("/warmup")).then((r) => r.text());
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
});

async function fetchError(promise: Promise<unknown>): Promise<FeedError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof FeedError) return err;
    throw err;
  }
  throw new Error("expected a FeedError");
}

describe("fetchFeed", () => {
  it("returns the body and validators", async () => {
    server.setRoute("/ok.xml", {
      body: RSS,
      contentType: "application/rss+xml; charset=utf-8",
      etag: '"v1"',
      lastModified: "Mon, 15 Jan 2024 10:00:00 GMT",
    });
    const res = await fetchFeed(server.url("/ok.xml"), { ...OPTS, userAgent: "newsbot-test/1" });
    expect(res).toEqual({
      status: "ok",
      finalUrl: server.url("/ok.xml"),
      body: Buffer.from(RSS),
      contentType: "application/rss+xml; charset=utf-8",
      etag: '"v1"',
      lastModified: "Mon, 15 Jan 2024 10:00:00 GMT",
    });
    expect(server.requests[0]?.headers["user-agent"]).toBe("newsbot-test/1");
    expect(server.requests[0]?.headers["if-none-match"]).toBeUndefined();
  });

  it("round-trips a conditional GET with If-None-Match", async () => {
    server.setRoute("/etag.xml", { body: RSS, contentType: "application/rss+xml", etag: '"abc123"' });
    const first = await fetchFeed(server.url("/etag.xml"), OPTS);
    expect(first.status).toBe("ok");
    const etag = first.status === "ok" ? first.etag : undefined;
    expect(etag).toBe('"abc123"');

    const second = await fetchFeed(server.url("/etag.xml"), { ...OPTS, etag });
    expect(second).toEqual({ status: "not-modified", finalUrl: server.url("/etag.xml") });
    expect(server.requests[1]?.headers["if-none-match"]).toBe('"abc123"');

    // A changed resource is fetched again in full.
    server.setRoute("/etag.xml", { body: RSS, contentType: "application/rss+xml", etag: '"def456"' });
    const third = await fetchFeed(server.url("/etag.xml"), { ...OPTS, etag });
    expect(third.status === "ok" && third.etag).toBe('"def456"');
  });

  it("round-trips a conditional GET with If-Modified-Since", async () => {
    const lastModified = "Tue, 16 Jan 2024 08:00:00 GMT";
    server.setRoute("/lm.xml", { body: RSS, lastModified });
    const first = await fetchFeed(server.url("/lm.xml"), OPTS);
    expect(first.status === "ok" && first.lastModified).toBe(lastModified);
    const second = await fetchFeed(server.url("/lm.xml"), { ...OPTS, lastModified });
    expect(second.status).toBe("not-modified");
    expect(server.requests[1]?.headers["if-modified-since"]).toBe(lastModified);
  });

  it("follows relative and absolute redirects and reports the final URL", async () => {
    server.setRoute("/old", { redirectTo: "/moved", status: 301 });
    server.setRoute("/moved", { redirectTo: server.url("/new.xml"), status: 307 });
    server.setRoute("/new.xml", { body: RSS, contentType: "text/xml" });
    const res = await fetchFeed(server.url("/old"), OPTS);
    expect(res.status).toBe("ok");
    expect(res.finalUrl).toBe(server.url("/new.xml"));
    expect(server.requests.map((r) => r.path)).toEqual(["/old", "/moved", "/new.xml"]);
  });

  it("gives not-modified after a redirect, with the final URL", async () => {
    server.setRoute("/r304", { redirectTo: "/etag304.xml" });
    server.setRoute("/etag304.xml", { body: RSS, etag: '"e"' });
    const res = await fetchFeed(server.url("/r304"), { ...OPTS, etag: '"e"' });
    expect(res).toEqual({ status: "not-modified", finalUrl: server.url("/etag304.xml") });
  });

  it("detects a redirect loop", async () => {
    server.setRoute("/loop-a", { redirectTo: "/loop-b" });
    server.setRoute("/loop-b", { redirectTo: "/loop-a" });
    const err = await fetchError(fetchFeed(server.url("/loop-a"), { ...OPTS, maxRedirects: 10 }));
    expect(err.code).toBe("too-many-redirects");
    expect(err.reason).toContain("loop");
    expect(server.requests).toHaveLength(2);
  });

  it("stops after maxRedirects hops", async () => {
    for (let i = 0; i < 5; i++) server.setRoute(`/hop${i}`, { redirectTo: `/hop${i + 1}` });
    server.setRoute("/hop5", { body: RSS });
    const err = await fetchError(fetchFeed(server.url("/hop0"), { ...OPTS, maxRedirects: 3 }));
    expect(err.code).toBe("too-many-redirects");
    expect(server.requests).toHaveLength(4);
    // ...but exactly maxRedirects hops are fine
    const ok = await fetchFeed(server.url("/hop2"), { ...OPTS, maxRedirects: 3 });
    expect(ok.finalUrl).toBe(server.url("/hop5"));
  });

  it("refuses redirects to non-http schemes and non-http URLs", async () => {
    server.setRoute("/to-file", { redirectTo: "file:///etc/passwd" });
    expect((await fetchError(fetchFeed(server.url("/to-file"), OPTS))).code).toBe("bad-url");
    expect((await fetchError(fetchFeed("ftp://news.example.tm/feed.xml", OPTS))).code).toBe("bad-url");
    expect((await fetchError(fetchFeed("not a url", OPTS))).code).toBe("bad-url");
  });

  it("rejects early when Content-Length exceeds the cap", async () => {
    // Announces 10 MB but sends one byte and stalls: only the header check can fail this fast.
    server.setRoute("/huge-declared", (_req, res) => {
      res.writeHead(200, { "content-type": "application/rss+xml", "content-length": String(10 * 1024 * 1024) });
      res.write("<");
    });
    const started = Date.now();
    const err = await fetchError(fetchFeed(server.url("/huge-declared"), OPTS));
    expect(err.code).toBe("too-large");
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("aborts a body without Content-Length as soon as it passes the cap", async () => {
    const chunk = Buffer.alloc(1024, "a");
    server.setRoute("/chunked", { chunks: Array.from({ length: 100 }, () => chunk), contentType: "text/xml" });
    const err = await fetchError(fetchFeed(server.url("/chunked"), { ...OPTS, maxBytes: 4096 }));
    expect(err.code).toBe("too-large");

    // An endless stream must hit the cap, not the timeout.
    server.setRoute("/endless", (_req, res) => {
      res.writeHead(200, { "content-type": "text/xml" });
      const timer = setInterval(() => {
        if (res.destroyed) clearInterval(timer);
        else res.write(chunk);
      }, 1);
      res.on("close", () => clearInterval(timer));
    });
    const endless = await fetchError(fetchFeed(server.url("/endless"), { ...OPTS, maxBytes: 8192 }));
    expect(endless.code).toBe("too-large");
  });

  it("applies the cap to decompressed bytes", async () => {
    const big = Buffer.alloc(200 * 1024, " "); // compresses to a few hundred bytes
    server.setRoute("/gzip-bomb", { body: big, gzip: true, contentType: "text/xml" });
    const err = await fetchError(fetchFeed(server.url("/gzip-bomb"), OPTS));
    expect(err.code).toBe("too-large");

    server.setRoute("/gzip-ok", { body: RSS, gzip: true, contentType: "text/xml" });
    const ok = await fetchFeed(server.url("/gzip-ok"), OPTS);
    expect(ok.status === "ok" && ok.body.toString("utf8")).toBe(RSS);
  });

  it("times out on a slow server", async () => {
    server.setRoute("/slow", { body: RSS, delayMs: 2000 });
    const started = Date.now();
    const err = await fetchError(fetchFeed(server.url("/slow"), SHORT));
    expect(err.code).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("times out while reading a slow body (timeout covers the body read)", async () => {
    server.setRoute("/slow-body", { chunks: ["<rss>", "<channel>", "</channel>", "</rss>"], chunkDelayMs: 200 });
    const err = await fetchError(fetchFeed(server.url("/slow-body"), SHORT));
    expect(err.code).toBe("timeout");
  });

  it("times out on a server that never answers", async () => {
    server.setRoute("/hang", { hang: true });
    const started = Date.now();
    const err = await fetchError(fetchFeed(server.url("/hang"), SHORT));
    expect(err.code).toBe("timeout");
    expect(err.reason).toContain("300 ms");
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("reports non-2xx statuses as http errors", async () => {
    server.setRoute("/boom", { status: 500, body: "Internal error" });
    const err = await fetchError(fetchFeed(server.url("/boom"), OPTS));
    expect(err).toBeInstanceOf(FeedError);
    expect(err.code).toBe("http");
    expect(err.status).toBe(500);
    expect(err.reason).toMatch(/^HTTP 500/);

    const missing = await fetchError(fetchFeed(server.url("/nowhere"), OPTS));
    expect(missing.status).toBe(404);
  });

  it("reports a refused connection as a network error with the cause", async () => {
    const port = await closedPort();
    const err = await fetchError(fetchFeed(`http://127.0.0.1:${port}/feed.xml`, OPTS));
    expect(err.code).toBe("network");
    expect(err.reason).toContain("ECONNREFUSED");
  });

  it("uses an injected fetch implementation", async () => {
    const calls: string[] = [];
    const fetchImpl: typeof fetch = async (input) => {
      calls.push(String(input));
      return new Response(RSS, { status: 200, headers: { "content-type": "application/rss+xml" } });
    };
    const res = await fetchFeed("https://news.example.tm/rss", { ...OPTS, fetchImpl });
    expect(res.status === "ok" && res.body.toString()).toBe(RSS);
    expect(calls).toEqual(["https://news.example.tm/rss"]);
  });
});

describe("createFeedServer", () => {
  it("close() does not wait for a hanging request", async () => {
    const local = createFeedServer();
    await local.start();
    local.setRoute("/hang", { hang: true });
    const pending = fetch(local.url("/hang")).catch((err: unknown) => err);
    await waitFor(() => local.requests.length === 1);
    const started = Date.now();
    await local.close();
    expect(Date.now() - started).toBeLessThan(500);
    expect(await pending).toBeInstanceOf(TypeError); // the client sees the socket go away
  });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
}

/** A loopback port with nothing listening on it. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
