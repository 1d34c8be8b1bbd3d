import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { ExpressAdapter } from "@bull-board/express";

export const DASHBOARD_PATH = "/admin/queues";
export const DASHBOARD_USER = "admin";

type BoardQueue = ConstructorParameters<typeof BullMQAdapter>[0];

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/** Basic-auth check in constant time: hashing first makes the compare independent of lengths too. */
export function basicAuthMatches(header: string | undefined, user: string, password: string): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  const decoded = m?.[1] ? Buffer.from(m[1], "base64").toString("utf8") : "";
  const colon = decoded.indexOf(":");
  const givenUser = colon < 0 ? "" : decoded.slice(0, colon);
  const givenPassword = colon < 0 ? "" : decoded.slice(colon + 1);
  // Both compares always run, so a wrong user name takes as long as a wrong password.
  const userOk = timingSafeEqual(digest(givenUser), digest(user));
  const passwordOk = timingSafeEqual(digest(givenPassword), digest(password));
  return colon >= 0 && userOk && passwordOk;
}

/**
 * Bull Board on an express app of its own, for requests under /admin/queues only; the rest of
 * the HTTP server stays plain node:http. Every request needs the password, assets included.
 */
export function createDashboard(deps: { queues: BoardQueue[]; password: string }): (req: IncomingMessage, res: ServerResponse) => void {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: deps.queues.map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: "newsbot" } },
  });

  const app = express();
  app.disable("x-powered-by");
  app.use(DASHBOARD_PATH, (req: Request, res: Response, next: NextFunction) => {
    if (basicAuthMatches(req.headers.authorization, DASHBOARD_USER, deps.password)) return next();
    res.set("WWW-Authenticate", 'Basic realm="newsbot queues", charset="UTF-8"').status(401).json({ error: "unauthorized" });
  });
  app.use(DASHBOARD_PATH, serverAdapter.getRouter());
  return (req, res) => app(req, res);
}
