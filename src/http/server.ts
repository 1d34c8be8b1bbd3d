import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../logger.ts";
import { MAX_INGEST_BYTES, type ApiResponse } from "./ingest-api.ts";

export interface HttpDeps {
  logger: Logger;
  /** Absent when INGEST_TOKEN is unset: the endpoint then answers 404 as if it didn't exist. */
  ingest?: (req: { authorization: string | undefined; contentType: string | undefined; body: Buffer }) => Promise<ApiResponse>;
  /** Named readiness checks (Redis, Telegram); /readyz is 200 only when all pass. */
  readiness?: Record<string, () => Promise<void>>;
}

export interface HttpServer {
  server: Server;
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
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
      if (req.method === "GET" && url.pathname === "/readyz") {
        const results: Record<string, string> = {};
        let ok = true;
        for (const [name, check] of Object.entries(deps.readiness ?? {})) {
          try {
            await check();
            results[name] = "ok";
          } catch (err) {
            ok = false;
            results[name] = (err as Error).message;
          }
        }
        return send(res, { status: ok ? 200 : 503, body: { status: ok ? "ready" : "not ready", checks: results } });
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
  return {
    server,
    listen(port, host = "0.0.0.0") {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
