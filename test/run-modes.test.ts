import { afterEach, describe, expect, inject, it } from "vitest";
import { loadConfig, type ConfigError } from "../src/config.ts";
import { startHarness, uniquePrefix, type Harness } from "./support/harness.ts";
import { postArticle, range, seedSubscribers, waitForFanout } from "./support/seed.ts";
import { processEnv, spawnBot, type BotProcess } from "./support/processes.ts";
import { freePort, startRedis, type RedisProcess } from "./support/redis-server.ts";
import { startTelegramEmulator, type TelegramEmulator } from "./support/telegram-emulator.ts";
import { peakPerSecond } from "./support/rates.ts";

const INGEST_TOKEN = "run-modes-ingest-token-0123";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything started by a test, stopped after it whatever happened. */
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

function spawn(env: Record<string, string>): BotProcess {
  const p = spawnBot(env);
  cleanup.push(() => p.kill("SIGKILL"));
  return p;
}

async function harness(opts: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness(opts);
  cleanup.push(() => h.stop());
  return h;
}

async function emulator(opts: Parameters<typeof startTelegramEmulator>[0] = {}): Promise<TelegramEmulator> {
  const emu = await startTelegramEmulator(opts);
  cleanup.push(() => emu.close());
  return emu;
}

async function privateRedis(args?: string[]): Promise<RedisProcess> {
  const r = await startRedis(args ? { args } : {});
  cleanup.push(() => r.stop());
  return r;
}


/** One sample of a Prometheus text exposition, matched by name and a subset of its labels (0 if absent). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return 0;
}

const copiesOf = (emu: TelegramEmulator, chats: number[], title: string) =>
  chats.map((c) => emu.sent(c).filter((e) => e.plainText?.includes(title)).length);

const baseEnv = (emu: TelegramEmulator, prefix: string) => processEnv(emu, inject("redisUrl"), prefix, { DELIVERY_RATE: "25" });

describe("configuration of run modes", () => {
  it("needs WEBHOOK_SECRET with WEBHOOK_URL, checks ROLE, and main.ts says so before connecting", async () => {
    const token = { BOT_TOKEN: "12345:abcdef" };
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ ...token, ...env });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ WEBHOOK_URL: "https://bot.example.org/tg" })).toEqual([expect.stringMatching(/^WEBHOOK_SECRET: is required when WEBHOOK_URL is set/)]);
    expect(problems({ WEBHOOK_URL: "https://bot.example.org/tg", WEBHOOK_SECRET: "short" })).toEqual([expect.stringMatching(/^WEBHOOK_SECRET: must be 16-256 characters/)]);
    expect(problems({ ROLE: "both" })).toEqual([expect.stringMatching(/^ROLE: must be "all".*"bot".*"worker"/)]);
    expect(problems({ ADMIN_DASHBOARD_PASSWORD: "admin" })).toEqual([expect.stringMatching(/^ADMIN_DASHBOARD_PASSWORD: must be at least 12/)]);

    const c = loadConfig({ ...token, WEBHOOK_URL: "https://bot.example.org/tg/hook?x=1", WEBHOOK_SECRET: "s3cr3t_s3cr3t-s3cr3t", ROLE: "bot" });
    expect(c.webhook).toEqual({ url: "https://bot.example.org/tg/hook?x=1", path: "/tg/hook", secret: "s3cr3t_s3cr3t-s3cr3t" });
    expect(c.role).toBe("bot");
    expect(loadConfig(token)).toMatchObject({ role: "all", webhook: undefined, adminDashboardPassword: undefined });

    // The real entry point lists both problems and stops (the Redis URL points nowhere: it must not get that far).
    const p = spawn({ ...token, ROLE: "both", WEBHOOK_URL: "https://bot.example.org/tg", REDIS_URL: "redis://127.0.0.1:1" });
    expect(await p.exited).toBe(1);
    expect(p.output).toContain("Cannot start: the configuration is invalid.");
    expect(p.output.join("\n")).toMatch(/ROLE: must be "all"/);
    expect(p.output.join("\n")).toMatch(/WEBHOOK_SECRET: is required when WEBHOOK_URL is set/);
  });
});

describe("updates by webhook", () => {
  it("takes updates with the right secret token; a wrong or missing one gets 401 and nothing happens", async () => {
    const port = await freePort();
    const secret = "whsec_0123456789abcdefABCDEF";
    const url = `http://127.0.0.1:${port}/telegram/updates`;
    const h = await harness({ httpPort: port, env: { WEBHOOK_URL: url, WEBHOOK_SECRET: secret } });

    // Start-up registered the webhook with the secret, and nobody polls.
    expect(h.emu.webhookUrl).toBe(url);
    expect(h.emu.isPolling).toBe(false);
    expect(h.emu.calls.some((c) => c.method === "setWebhook" && c.params.secret_token === secret)).toBe(true);
    expect(h.emu.calls.some((c) => c.method === "getUpdates")).toBe(false);

    // Right secret: Telegram (the emulator) POSTs /start, the bot handles it and replies.
    h.emu.sendCommand({ id: 610_001, first_name: "Reader" }, "start");
    await h.emu.webhookIdle();
    expect(h.emu.webhookDeliveries.at(-1)?.status).toBe(200);
    await h.emu.waitFor((e) => e.sent(610_001).length > 0, 5_000);
    expect(await h.app.subscribers.get(610_001)).toBeDefined();

    // Forged updates: the same shape Telegram sends, with a wrong or no secret.
    const forged = (updateId: number) => ({
      update_id: updateId,
      message: {
        message_id: 1,
        date: Math.floor(Date.now() / 1000),
        chat: { id: 610_002, type: "private", first_name: "Mallory" },
        from: { id: 610_002, is_bot: false, first_name: "Mallory" },
        text: "/start",
        entities: [{ type: "bot_command", offset: 0, length: 6 }],
      },
    });
    const post = (body: unknown, headers: Record<string, string>) =>
      fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });

    const wrong = await post(forged(900_001), { "X-Telegram-Bot-Api-Secret-Token": "whsec_0123456789abcdefABCDEX" });
    expect(wrong.status).toBe(401);
    const missing = await post(forged(900_002), {});
    expect(missing.status).toBe(401);
    await sleep(300);
    expect(h.emu.sent(610_002)).toHaveLength(0);
    expect(await h.app.subscribers.get(610_002)).toBeUndefined();

    // Control: the very same update with the right secret is handled, so the 401s really stopped it.
    const right = await post(forged(900_003), { "X-Telegram-Bot-Api-Secret-Token": secret });
    expect(right.status).toBe(200);
    await h.emu.waitFor((e) => e.sent(610_002).length > 0, 5_000);

    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(sample(metrics, "newsbot_webhook_rejected_total")).toBe(2);
    expect((await fetch(url)).status).toBe(405);
  });
});

describe("HTTP endpoints", () => {
  it("/metrics shows sends, failures by reason, 429s, latency, feed polls and queue depths moving", async () => {
    const h = await harness({ httpPort: 0, polling: false });
    const base = `http://127.0.0.1:${h.app.httpPort}`;
    const chats = range(620_000, 6);
    await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["energy"] })));
    h.emu.blockChat(620_005);

    const before = await fetch(`${base}/metrics`);
    expect(before.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const t0 = await before.text();
    expect(sample(t0, "newsbot_messages_sent_total", { priority: "normal" })).toBe(0);
    expect(t0).toContain('newsbot_queue_jobs{queue="delivery",state="wait"');
    expect(t0).toMatch(/^process_cpu_user_seconds_total/m);

    h.emu.failNext(1, { code: 429, description: "Too Many Requests: retry after 1", method: "sendMessage" });
    const r = await h.app.ingest.ingest({
      item: { url: "https://news.example.org/metrics-test", title: "Gas price metrics", summary: "" },
      source: { kind: "cms" },
      explicitTopics: ["energy"],
    });
    expect(await waitForFanout(h.app, r.id)).toMatchObject({ audience: 6, sent: 5, blocked: 1 });
    // A feed the catalog no longer has: one poll with result "removed".
    await h.app.queues.feeds.add("poll-feed", { url: "https://gone.example.org/rss" });
    const deadline = Date.now() + 5_000;
    let t1 = "";
    while (Date.now() < deadline) {
      t1 = await (await fetch(`${base}/metrics`)).text();
      if (sample(t1, "newsbot_feed_polls_total", { result: "removed" }) === 1) break;
      await sleep(50);
    }

    expect(sample(t1, "newsbot_messages_sent_total", { priority: "normal", role: "all" })).toBe(5);
    expect(sample(t1, "newsbot_messages_failed_total", { reason: "unreachable", code: "403" })).toBe(1);
    expect(sample(t1, "newsbot_messages_failed_total", { reason: "rate_limited", code: "429" })).toBe(1);
    expect(sample(t1, "newsbot_telegram_429_total")).toBe(1);
    expect(sample(t1, "newsbot_delivery_latency_seconds_count", { priority: "normal" })).toBe(5);
    expect(sample(t1, "newsbot_delivery_latency_seconds_bucket", { priority: "normal", le: "+Inf" })).toBe(5);
    expect(sample(t1, "newsbot_feed_polls_total", { feed: "https://gone.example.org/rss", result: "removed" })).toBe(1);
    expect(sample(t1, "newsbot_feed_poll_duration_seconds_count", { result: "removed" })).toBe(1);
    // Collected at scrape time from Redis: the finished chunk job is counted as nothing pending.
    expect(sample(t1, "newsbot_queue_jobs", { queue: "delivery", state: "active" })).toBe(0);
  });

  it("the queue dashboard needs the password (401 with WWW-Authenticate) and is off without one (404)", async () => {
    const password = "correct-horse-battery-staple";
    const h = await harness({ httpPort: 0, polling: false, env: { ADMIN_DASHBOARD_PASSWORD: password } });
    const url = `http://127.0.0.1:${h.app.httpPort}/admin/queues`;
    const basic = (user: string, pass: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}` });

    for (const headers of [{}, basic("admin", "wrong-password-123"), basic("root", password), { authorization: "Bearer x" }]) {
      const res = await fetch(url, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Basic realm="newsbot queues"/);
    }
    // The JSON API behind the page is guarded too.
    expect((await fetch(`${url}/api/queues`)).status).toBe(401);

    const page = await fetch(url, { headers: basic("admin", password) });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const api = await fetch(`${url}/api/queues?activeQueue=delivery`, { headers: basic("admin", password) });
    expect(api.status).toBe(200);
    const names = ((await api.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(["feeds", "fanout", "delivery"]));

    const off = await harness({ httpPort: 0, polling: false });
    expect((await fetch(`http://127.0.0.1:${off.app.httpPort}/admin/queues`, { headers: basic("admin", password) })).status).toBe(404);
  });

  it("/readyz is 503 with the reason while Telegram is unreachable, 200 again after", async () => {
    const h = await harness({ httpPort: 0, polling: false });
    const base = `http://127.0.0.1:${h.app.httpPort}`;
    const ready = async () => {
      const res = await fetch(`${base}/readyz`);
      return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
    };
    expect(await ready()).toEqual({ status: 200, body: { status: "ready", checks: { redis: "ok", telegram: "ok" } } });

    h.emu.setUnreachable(true);
    const down = await ready();
    expect(down.status).toBe(503);
    expect(down.body.status).toBe("not ready");
    expect(down.body.checks.redis).toBe("ok");
    expect(down.body.checks.telegram).toMatch(/^Telegram unreachable/);
    expect(JSON.stringify(down.body)).not.toContain(h.emu.token);
    // Liveness is not readiness: the process itself is fine.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    h.emu.setUnreachable(false);
    expect((await ready()).status).toBe(200);
  });
});

describe("roles as separate processes", () => {
  it("ROLE=bot polls and takes the article, two ROLE=worker processes deliver it once within the limit", { timeout: 45_000 }, async () => {
    const emu = await emulator({ globalRate: 30 });
    const prefix = uniquePrefix();
    // In-test app for seeding and assertions only: no polling, no workers.
    const h = await harness({ emu, prefix, role: "bot", polling: false });
    const mark = emu.calls.length;
    const workers = [spawn({ ...baseEnv(emu, prefix), ROLE: "worker" }), spawn({ ...baseEnv(emu, prefix), ROLE: "worker" })];
    const chats = range(630_000, 60);
    await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["energy"] })));
    await Promise.all(workers.map((w) => w.waitForLog('"msg":"started"')));
    await sleep(300);
    // Workers neither poll nor set a webhook (nor touch Telegram at all until there is something to send).
    expect(emu.calls.slice(mark).map((c) => c.method)).toEqual([]);

    const botPort = await freePort();
    const bot = spawn({ ...baseEnv(emu, prefix), ROLE: "bot", PORT: String(botPort), INGEST_TOKEN });
    await bot.waitForLog('"msg":"started"');
    await emu.waitFor((e) => e.isPolling, 5_000);
    emu.sendCommand({ id: 639_999, first_name: "Reader" }, "start");
    await emu.waitFor((e) => e.sent(639_999).length > 0, 5_000);

    const res = await postArticle(botPort, { url: "https://news.example.org/roles", title: "Pipeline roles test", topics: ["energy"] }, INGEST_TOKEN);
    expect(res.status).toBe(202);
    const rec = await waitForFanout(h.app, String(res.body.id), 20_000);
    expect(rec).toMatchObject({ audience: 60, sent: 60, failed: 0 });
    expect(copiesOf(emu, chats, "Pipeline roles test").every((n) => n === 1)).toBe(true);
    expect(emu.count429).toBe(0);
    expect(peakPerSecond(chats.flatMap((c) => emu.sent(c).map((e) => e.at)))).toBeLessThanOrEqual(30);
    // The bot process runs no workers; the chunk went to a worker process.
    expect(bot.output.some((l) => l.includes('"msg":"chunk delivered"'))).toBe(false);
    expect(workers.some((w) => w.output.some((l) => l.includes('"msg":"chunk delivered"')))).toBe(true);

    const codes = await Promise.all([bot, ...workers].map((p) => p.kill("SIGTERM")));
    expect(codes).toEqual([0, 0, 0]);
  });

  it("a worker stopped with SIGTERM mid fan-out exits 0 quickly; a new one finishes: everybody exactly once", { timeout: 45_000 }, async () => {
    const emu = await emulator({ globalRate: 30, recordCalls: false });
    const prefix = uniquePrefix();
    const h = await harness({ emu, prefix, role: "bot", polling: false });
    const w1 = spawn({ ...baseEnv(emu, prefix), ROLE: "worker" });
    const chats = range(640_000, 100);
    await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["cybersecurity"] })));
    const title = "Graceful shutdown drill";
    await w1.waitForLog('"msg":"started"');
    const r = await h.app.ingest.ingest({ item: { url: "https://news.example.org/sigterm", title, summary: "" }, source: { kind: "cms" }, explicitTopics: ["cybersecurity"] });
    await emu.waitFor(() => copiesOf(emu, chats, title).filter((n) => n > 0).length >= 30, 20_000);

    const t0 = Date.now();
    const code = await w1.kill("SIGTERM");
    const tookMs = Date.now() - t0;
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(5_000);
    expect(w1.output.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    const atStop = copiesOf(emu, chats, title).filter((n) => n > 0).length;
    expect(atStop).toBeLessThan(100);
    await sleep(500);
    expect(copiesOf(emu, chats, title).filter((n) => n > 0).length).toBe(atStop);

    const w2 = spawn({ ...baseEnv(emu, prefix), ROLE: "worker" });
    await w2.waitForLog('"msg":"started"');
    const rec = await waitForFanout(h.app, r.id, 30_000);
    console.log(`SIGTERM test: ${atStop} delivered when stopped (exit after ${tookMs} ms)`);
    // A graceful stop settles every send it made: no duplicates at all, nobody skipped.
    expect(copiesOf(emu, chats, title).every((n) => n === 1)).toBe(true);
    expect(rec).toMatchObject({ audience: 100, sent: 100, failed: 0 });
    expect(await w2.kill("SIGTERM")).toBe(0);
  });
});

describe("logs", () => {
  it("never show the bot token, whatever fails: Telegram unreachable, then Redis killed, then a start without Redis", { timeout: 45_000 }, async () => {
    const token = "7310045521:AAHsecretHALF-x9Qz_Lk3VtZ0w";
    const secretHalf = token.split(":")[1]!;
    const emu = await emulator({ token });
    const redis = await privateRedis();
    const prefix = uniquePrefix();
    // Subscribers to deliver to, in the private Redis.
    const seeder = await startHarness({ emu, prefix, role: "bot", polling: false, env: { REDIS_URL: redis.url } });
    await seedSubscribers(seeder.app, range(650_000, 3).map((id) => ({ id, topics: ["energy"] })));
    await seeder.app.stop();
    seeder.redis.disconnect();

    const port = await freePort();
    const env = { ...baseEnv(emu, prefix), BOT_TOKEN: token, REDIS_URL: redis.url, PORT: String(port), INGEST_TOKEN, NODE_ENV: "production", LOG_LEVEL: "debug" };
    const run1 = spawn(env);
    await run1.waitForLog('"msg":"started"');

    // Telegram goes away: polling, delivery and the readiness probe all fail.
    emu.setUnreachable(true);
    const res = await postArticle(port, { url: "https://news.example.org/leak-test", title: "Leak test", topics: ["energy"] }, INGEST_TOKEN);
    expect(res.status).toBe(202);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    await run1.waitForLog("fetching updates failed", 10_000);
    // Delivery gives up on this round after 10 network failures in a row (~7 s of backoff).
    await run1.waitForLog('"msg":"job failed"', 15_000);
    // Then Redis dies too.
    await redis.kill();
    await run1.waitForLog("Redis connection problem", 10_000);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    // With Redis gone a clean shutdown can't finish (main.ts gives up after 25 s); its lines count too.
    run1.child.kill("SIGTERM");
    await run1.waitForLog("shutting down", 5_000);
    await Promise.race([run1.exited, sleep(2_000)]);
    await run1.kill("SIGKILL");

    // And a start with Redis down: refused before anything else connects.
    const run2 = spawn(env);
    expect(await run2.exited).toBe(1);

    const all = [...run1.output, ...run2.output].join("\n");
    // Every failure really happened (so the absence of the token means something).
    for (const line of ["fetching updates failed", '"msg":"job failed"', "Redis connection problem", "does not answer"]) expect(all).toContain(line);
    expect(all).not.toContain(token);
    expect(all).not.toContain(secretHalf);
    expect(all).not.toContain(encodeURIComponent(token));
    // Production logs are JSON lines (the one-off start-up refusals excepted).
    expect(run1.output.filter((l) => l.startsWith("{")).length).toBe(run1.output.length);
  });

  it("warns at start-up when Redis may evict keys", async () => {
    const emu = await emulator();
    const redis = await privateRedis(["--maxmemory-policy", "allkeys-lru"]);
    const p = spawn({ ...baseEnv(emu, uniquePrefix()), REDIS_URL: redis.url, ROLE: "worker" });
    await p.waitForLog("maxmemory-policy is not noeviction");
    expect(p.output.find((l) => l.includes("maxmemory-policy is not noeviction"))).toMatch(/"policy":"allkeys-lru"/);
    await p.waitForLog('"msg":"started"');
    expect(await p.kill("SIGTERM")).toBe(0);
  });
});
