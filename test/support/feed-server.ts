import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gzipSync } from "node:zlib";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface RouteSpec {
  body?: string | Buffer;
  contentType?: string;
  status?: number;
  headers?: Record<string, string>;
  /** Sent as ETag; a matching If-None-Match gets a 304. */
  etag?: string;
  /** Sent as Last-Modified; an If-Modified-Since at or after it gets a 304 (absent If-None-Match). */
  lastModified?: string;
  /** Wait this long before sending anything. */
  delayMs?: number;
  /** Never answer; the socket stays open until the client gives up or the server closes. */
  hang?: boolean;
  /** Answer with `status` (default 302) and this Location. */
  redirectTo?: string;
  /** Send the body in these pieces (chunked, no Content-Length), `chunkDelayMs` apart. */
  chunks?: Array<string | Buffer>;
  chunkDelayMs?: number;
  /** gzip the body and send Content-Encoding: gzip. */
  gzip?: boolean;
  /** Send a Content-Length header with this value instead of the real length. */
  contentLength?: number;
}

export interface FeedServer {
  url(path: string): string;
  start(): Promise<void>;
  close(): Promise<void>;
  setRoute(path: string, route: RouteHandler | RouteSpec): void;
  requests: Array<{ path: string; headers: IncomingHttpHeaders }>;
}

/** A loopback HTTP server with scripted routes, for feed-fetching tests. */
export function createFeedServer(): FeedServer {
  const routes = new Map<string, RouteHandler | RouteSpec>();
  const requests: FeedServer["requests"] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let port = 0;
  let closed = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const server = createServer((req, res) => {
    const path = req.url ?? "/";
    requests.push({ path, headers: req.headers });
    const route = routes.get(path) ?? routes.get(path.split("?")[0] ?? path);
    if (!route) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      return;
    }
    const run = typeof route === "function" ? route(req, res) : serveSpec(route, req, res);
    Promise.resolve(run).catch((err: unknown) => {
      // A client that gave up mid-response is expected in these tests; anything else is a bug.
      if (!res.destroyed) console.error("feed-server route failed", err);
      res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  async function serveSpec(spec: RouteSpec, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (spec.hang) return;
    if (spec.delayMs) await sleep(spec.delayMs);
    if (closed || res.destroyed) return;

    if (spec.redirectTo !== undefined) {
      res.writeHead(spec.status ?? 302, { ...spec.headers, location: spec.redirectTo }).end();
      return;
    }

    const headers: OutgoingHttpHeaders = { ...spec.headers };
    if (spec.contentType) headers["content-type"] = spec.contentType;
    if (spec.etag) headers.etag = spec.etag;
    if (spec.lastModified) headers["last-modified"] = spec.lastModified;
    if (isNotModified(spec, req.headers)) {
      res.writeHead(304, headers).end();
      return;
    }

    const status = spec.status ?? 200;
    if (spec.chunks) {
      if (spec.gzip) throw new Error("gzip with chunks is not supported");
      res.writeHead(status, headers);
      for (const [i, chunk] of spec.chunks.entries()) {
        if (i > 0 && spec.chunkDelayMs) await sleep(spec.chunkDelayMs);
        if (closed || res.destroyed) return;
        res.write(chunk);
      }
      res.end();
      return;
    }

    let body = Buffer.from(spec.body ?? "");
    if (spec.gzip) {
      body = gzipSync(body);
      headers["content-encoding"] = "gzip";
    }
    headers["content-length"] = spec.contentLength ?? body.length;
    res.writeHead(status, headers).end(body);
  }

  return {
    requests,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    setRoute: (path, route) => {
      routes.set(path, route);
    },
    start: () =>
      new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
          port = (server.address() as AddressInfo).port;
          resolve();
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        for (const t of timers) clearTimeout(t);
        timers.clear();
        // Hanging routes keep sockets open forever; destroy them so close() can finish.
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function isNotModified(spec: RouteSpec, headers: IncomingHttpHeaders): boolean {
  const inm = headers["if-none-match"];
  // RFC 9110 §13.2.2: If-None-Match, when present, replaces the If-Modified-Since check.
  if (inm !== undefined) {
    if (!spec.etag) return false;
    const weak = (t: string) => t.trim().replace(/^W\//, "");
    return inm.trim() === "*" || inm.split(",").some((t) => weak(t) === weak(spec.etag ?? ""));
  }
  const ims = headers["if-modified-since"];
  if (ims === undefined || !spec.lastModified) return false;
  const since = Date.parse(ims);
  const modified = Date.parse(spec.lastModified);
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}
