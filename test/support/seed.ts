import type { App } from "../../src/app.ts";

/** Subscribes chats straight through the store (the bot flow itself is covered elsewhere). */
export async function seedSubscribers(
  app: App,
  chats: Array<{ id: number; topics: string[]; lang?: string; status?: "active" | "stopped" | "blocked" }>,
): Promise<void> {
  for (const c of chats) {
    await app.subscribers.subscribe(c.id, c.lang ?? "en");
    await app.subscribers.setTopics(c.id, c.topics);
    if (c.status && c.status !== "active") await app.subscribers.setStatus(c.id, c.status);
  }
}

export function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

export async function postArticle(port: number, body: unknown, token: string | undefined, extra: { raw?: string; contentType?: string } = {}) {
  const res = await fetch(`http://127.0.0.1:${port}/api/articles`, {
    method: "POST",
    headers: {
      "content-type": extra.contentType ?? "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: extra.raw ?? JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Waits until the article's fan-out has finished (state done/cancelled). */
export async function waitForFanout(app: App, articleId: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rec = await app.deliveries.record(articleId);
    if (rec && (rec.state === "done" || rec.state === "cancelled" || rec.state === "no_topic")) return rec;
    if (Date.now() > deadline) throw new Error(`fan-out of ${articleId} not finished: ${JSON.stringify(rec)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Every feed's scheduler polls once at start-up. Tests that script a feed's answers wait for those
 * polls first, or one could land after a route is set and take the "first poll" the test makes.
 */
export async function waitForStartupPolls(app: App, feeds: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await app.queues.feeds.getJobCounts("completed", "failed")).completed! < feeds) {
    if (Date.now() > deadline) throw new Error("start-up polls did not finish");
    await new Promise((r) => setTimeout(r, 50));
  }
}
