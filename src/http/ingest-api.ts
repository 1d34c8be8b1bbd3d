import { timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Catalog } from "../catalog.ts";
import type { IngestService } from "../news/ingest.ts";
import type { Logger } from "../logger.ts";
import { normalizeUrl } from "../news/normalize-url.ts";

const httpUrl = z
  .string({ error: "must be a string" })
  .max(2048, { error: "must be at most 2048 characters" })
  .refine((u) => {
    try {
      normalizeUrl(u);
      return true;
    } catch {
      return false;
    }
  }, { error: "must be an absolute http(s) URL" });

export function articleBodySchema(catalog: Catalog) {
  return z.strictObject(
    {
      url: httpUrl,
      title: z.string({ error: "must be a string" }).trim().min(1, { error: "must not be empty" }).max(1000, { error: "must be at most 1000 characters" }),
      summary: z.string({ error: "must be a string" }).max(20_000, { error: "must be at most 20000 characters" }).optional(),
      image_url: httpUrl.optional(),
      topics: z
        .array(
          z.string({ error: "must be a string" }).refine((t) => catalog.topicById.has(t), {
            error: (issue) => `unknown topic "${String(issue.input)}"`,
          }),
          { error: "must be an array of topic ids" },
        )
        .max(60)
        .optional(),
      published_at: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time" }).optional(),
      priority: z.enum(["normal", "breaking"], { error: 'must be "normal" or "breaking"' }).optional(),
    },
    { error: (issue) => (issue.code === "unrecognized_keys" ? `unknown field(s): ${issue.keys.join(", ")}` : "the body must be a JSON object") },
  );
}

export type ApiResponse = { status: number; body: unknown; headers?: Record<string, string> };

export const MAX_INGEST_BYTES = 64 * 1024;

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? "");
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1].trim());
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** POST /api/articles: the CMS pushes one article. Pure request -> response, so it is easy to test. */
export function createIngestApi(deps: { token: string; catalog: Catalog; ingest: IngestService; logger: Logger }) {
  const schema = articleBodySchema(deps.catalog);
  return async function handle(req: { authorization: string | undefined; contentType: string | undefined; body: Buffer }): Promise<ApiResponse> {
    if (!tokenMatches(req.authorization, deps.token)) {
      return { status: 401, body: { error: "unauthorized", problems: ["a valid 'Authorization: Bearer <INGEST_TOKEN>' header is required"] }, headers: { "www-authenticate": "Bearer" } };
    }
    if (req.contentType && !/^application\/json\b/i.test(req.contentType)) {
      return { status: 415, body: { error: "unsupported media type", problems: ["send the article as application/json"] } };
    }
    let json: unknown;
    try {
      json = JSON.parse(req.body.toString("utf8"));
    } catch (err) {
      return { status: 400, body: { error: "invalid JSON", problems: [(err as Error).message] } };
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message));
      return { status: 400, body: { error: "invalid article", problems } };
    }
    const a = parsed.data;
    const published = a.published_at ? new Date(a.published_at).toISOString() : undefined;
    const result = await deps.ingest.ingest({
      item: {
        url: a.url,
        title: a.title,
        summary: a.summary?.trim() ?? "",
        ...(a.image_url ? { imageUrl: a.image_url } : {}),
        ...(published ? { publishedAt: published } : {}),
      },
      source: { kind: "cms" },
      priority: a.priority ?? "normal",
      explicitTopics: a.topics ?? [],
    });
    deps.logger.info({ articleId: result.id, status: result.status, url: a.url }, "CMS article received");
    return {
      status: 202,
      body: { id: result.id, status: result.status, ...(result.status === "queued" ? { topics: result.topics } : {}) },
    };
  };
}
