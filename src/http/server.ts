import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logger.ts";
import { MAX_INGEST_BYTES, type ApiResponse } from "./ingest-api.ts";

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => unknown;

export interface HttpDeps {
  logger: Logger;
  /** Absent when INGEST_TOKEN is unset: the endpoint then answers 404 as if it didn't exist. */
  ingest?: (req: { authorization: string | undefined; contentType: string | undefined; body: Buffer }) => Promise<ApiResponse>;
  /** Named readiness checks (Redis, Telegram); /readyz is 200 only when all pass. */
  readiness?: Record<string, () => Promise<void>>;
  /** Webhook mode: Telegram POSTs updates to this path. */
  webhook?: { path: string; handle: NodeHandler };
  /** GET /metrics in Prometheus text format (a prom-client Registry fits). */
  metrics?: { contentType: string; metrics(): Promise<string> };
  /** Bull Board under `basePath`; absent = 404 there. */
  dashboard?: { basePath: string; handle: NodeHandler };
}

/** A readiness check that neither answers nor fails within this is reported as failing. */
const CHECK_TIMEOUT_MS = 3_000;

async function runCheck(check: () => Promise<void>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS)));
  try {
    await Promise.race([check(), timeout]);
    return "ok";
  } catch (err) {
    return (err as Error).message || "failed";
  } finally {
    clearTimeout(timer);
  }
}

export interface HttpServer {
  server: Server;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting connections; requests in flight get up to `graceMs` to finish. */
  close(graceMs?: number): Promise<void>;
}

class TooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (declared > limit) return reject(new TooLarge());
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        reject(new TooLarge());
        req.resume();
        return;
      }
      parts.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, r: ApiResponse): void {
  const body = JSON.stringify(r.body);
  res.writeHead(r.status, { "content-type": "application/json; charset=utf-8", ...r.headers });
  res.end(body);
}

export function createHttpServer(deps: HttpDeps): HttpServer {
  const { logger } = deps;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    try {
      if (req.method === "GET" && url.pathname === "/healthz") return send(res, { status: 200, body: { status: "ok" } });
      if (deps.webhook && url.pathname === deps.webhook.path) {
        if (req.method !== "POST") return send(res, { status: 405, body: { error: "method not allowed" }, headers: { allow: "POST" } });
        await deps.webhook.handle(req, res);
        return;
      }
      if (req.method === "GET" && url.pathname === "/readyz") {
        const entries = await Promise.all(Object.entries(deps.readiness ?? {}).map(async ([name, check]) => [name, await runCheck(check)] as const));
        const checks = Object.fromEntries(entries);
        const ok = entries.every(([, r]) => r === "ok");
        return send(res, { status: ok ? 200 : 503, body: { status: ok ? "ready" : "not ready", checks } });
      }
      if (req.method === "GET" && url.pathname === "/metrics" && deps.metrics) {
        const text = await deps.metrics.metrics();
        res.writeHead(200, { "content-type": deps.metrics.contentType });
        res.end(text);
        return;
      }
      if (deps.dashboard && (url.pathname === deps.dashboard.basePath || url.pathname.startsWith(`${deps.dashboard.basePath}/`))) {
        deps.dashboard.handle(req, res);
        return;
      }
      if (url.pathname === "/api/articles" && deps.ingest) {
        if (req.method !== "POST") return send(res, { status: 405, body: { error: "method not allowed", problems: ["use POST"] }, headers: { allow: "POST" } });
        let body: Buffer;
        try {
          body = await readBody(req, MAX_INGEST_BYTES);
        } catch (err) {
          if (err instanceof TooLarge) {
            res.setHeader("connection", "close");
            return send(res, { status: 413, body: { error: "payload too large", problems: [`the body must be at most ${MAX_INGEST_BYTES} bytes`] } });
          }
          throw err;
        }
        return send(res, await deps.ingest({ authorization: req.headers.authorization, contentType: req.headers["content-type"], body }));
      }
      return send(res, { status: 404, body: { error: "not found" } });
    } catch (err) {
      logger.error({ err, path: url.pathname }, "HTTP request failed");
      if (!res.headersSent) send(res, { status: 500, body: { error: "internal error" } });
      else res.destroy();
    }
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  // Requests still being answered, so close() can let them finish before cutting connections.
  let active = 0;
  let drained: (() => void) | undefined;
  server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
    active++;
    res.once("close", () => {
      if (--active === 0) drained?.();
    });
  });
  return {
    server,
    listen(port, host = "0.0.0.0") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      });
    },
    async close(graceMs = 5_000) {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (active > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
      }
      // Keep-alive sockets would hold close() open until they time out.
      server.closeAllConnections();
      await closed;
    },
  };
}
