import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness.ts";
import { postArticle, range, seedSubscribers, waitForFanout } from "./support/seed.ts";

const TOKEN = "ingest-token-0123456789";

describe("CMS push and fan-out", () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await startHarness({ env: { INGEST_TOKEN: TOKEN }, httpPort: 0, polling: false });
    port = h.app.httpPort!;
  });
  afterAll(() => h?.stop());

  it("delivers an article to every active subscriber of a matching topic, once, formatted", async () => {
    await seedSubscribers(h.app, [
      { id: 101, topics: ["energy"] },
      { id: 102, topics: ["cybersecurity"] },
      { id: 103, topics: ["energy"], status: "stopped" },
      { id: 104, topics: ["energy", "turkmenistan"], lang: "ru" },
      { id: 105, topics: ["energy"], status: "blocked" },
    ]);
    const res = await postArticle(port, {
      url: "https://news.example.org/2026/11/tapi-gas?utm_source=tg",
      title: "TAPI <pipeline> & gas deal signed",
      summary: "The natural gas pipeline reaches a new stage.",
      topics: ["energy"],
    }, TOKEN);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("queued");
    const id = res.body.id as string;
    const rec = await waitForFanout(h.app, id);
    expect(rec).toMatchObject({ state: "done", audience: 2, sent: 2, blocked: 0, failed: 0 });
    expect(rec.startedAt).toBeGreaterThanOrEqual(rec.queuedAt!);
    expect(rec.finishedAt).toBeGreaterThanOrEqual(rec.startedAt!);

    for (const chat of [101, 104]) {
      const got = h.emu.sent(chat).filter((e) => e.plainText?.includes("gas deal"));
      expect(got, `chat ${chat}`).toHaveLength(1);
      expect(got[0]?.parse_mode).toBe("HTML");
      expect(got[0]?.text).toContain('<a href="https://news.example.org/2026/11/tapi-gas?utm_source=tg"><b>TAPI &lt;pipeline&gt; &amp; gas deal signed</b></a>');
      expect(got[0]?.plainText).toContain("#energy");
    }
    // Footer follows the reader's language.
    expect(h.emu.sent(104).at(-1)?.plainText).toContain("Подписывайтесь на нас");
    expect(h.emu.sent(101).at(-1)?.plainText).toContain("Follow us on Telegram");
    for (const chat of [102, 103, 105]) expect(h.emu.sent(chat), `chat ${chat}`).toHaveLength(0);
    // The record is marked done a moment before the line is written.
    await expect.poll(() => h.logs.some((l) => l.includes('"msg":"fan-out finished"') && l.includes(id))).toBe(true);
  });

  it("matches topics by keyword (whole words, any language) when the CMS names none", async () => {
    await seedSubscribers(h.app, [
      { id: 111, topics: ["turkmenistan"] },
      { id: 112, topics: ["cybersecurity"] },
    ]);
    const res = await postArticle(port, { url: "https://news.example.org/ashgabat-forum", title: "Форум в Ашхабаде: итоги", summary: "Итоги форума в Ашхабад." }, TOKEN);
    // "Ашхабаде" is not the keyword "Ашхабад" as a whole word, but the summary has it.
    expect(res.body.topics).toEqual(["turkmenistan"]);
    await waitForFanout(h.app, res.body.id as string);
    expect(h.emu.sent(111)).toHaveLength(1);
    expect(h.emu.sent(112)).toHaveLength(0);

    const none = await postArticle(port, { url: "https://news.example.org/weather", title: "Sunny weekend ahead" }, TOKEN);
    expect(none.status).toBe(202);
    expect(none.body.status).toBe("no-topic");
    expect((await h.app.articles.stats()).no_topic).toBeGreaterThanOrEqual(1);
  });

  it("is idempotent: the same url pushed twice (even with tracking params) is one article", async () => {
    await seedSubscribers(h.app, [{ id: 121, topics: ["cybersecurity"] }]);
    const body = { url: "https://news.example.org/ransomware-wave", title: "Ransomware wave hits banks", topics: ["cybersecurity"] };
    const first = await postArticle(port, body, TOKEN);
    const second = await postArticle(port, { ...body, url: `${body.url}?utm_campaign=x#top`, title: "Ransomware wave hits banks (updated)" }, TOKEN);
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ id: first.body.id, status: "duplicate" });
    await waitForFanout(h.app, first.body.id as string);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.emu.sent(121)).toHaveLength(1);
  });

  it("answers 401 without a valid token, 400 listing every problem, 413 over the size limit", async () => {
    const good = { url: "https://news.example.org/x", title: "X" };
    expect((await postArticle(port, good, undefined)).status).toBe(401);
    expect((await postArticle(port, good, "wrong-token-0123456789")).status).toBe(401);

    const badJson = await postArticle(port, null, TOKEN, { raw: "{not json" });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error).toBe("invalid JSON");

    const bad = await postArticle(port, { url: "javascript:alert(1)", title: "", topics: ["energy", "nope"], priority: "urgent", published_at: "yesterday", summary: 5, extra: 1 }, TOKEN);
    expect(bad.status).toBe(400);
    const problems = (bad.body.problems as string[]).join("\n");
    for (const field of ["url:", "title:", 'unknown topic "nope"', "priority:", "published_at:", "summary:", "unknown field(s): extra"]) {
      expect(problems).toContain(field);
    }

    const huge = await postArticle(port, { ...good, summary: "a".repeat(70_000) }, TOKEN);
    expect(huge.status).toBe(413);

    const arr = await postArticle(port, [good], TOKEN);
    expect(arr.status).toBe(400);
  });
});

describe("delivery under Telegram's limits and errors", () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await startHarness({ env: { INGEST_TOKEN: TOKEN, DELIVERY_RATE: "30" }, httpPort: 0, polling: false });
    port = h.app.httpPort!;
  });
  afterAll(() => h?.stop());

  it("honours 429 retry_after and loses nothing when Telegram's limit is below ours", async () => {
    const chats = range(20_000, 24);
    await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["digital_economy"] })));
    h.emu.configure({ globalRate: 8, retryAfter: 1 });
    try {
      const res = await postArticle(port, { url: "https://news.example.org/fintech-law", title: "Fintech law adopted", topics: ["digital_economy"] }, TOKEN);
      const rec = await waitForFanout(h.app, res.body.id as string, 30_000);
      expect(rec).toMatchObject({ audience: 24, sent: 24, failed: 0, blocked: 0 });
      expect(h.emu.count429).toBeGreaterThan(0);
      for (const id of chats) expect(h.emu.sent(id).filter((e) => e.plainText?.includes("Fintech law")), `chat ${id}`).toHaveLength(1);
      expect(h.logs.some((l) => l.includes("Telegram rate limit hit"))).toBe(true);
    } finally {
      h.emu.configure({ globalRate: Infinity });
    }
  });

  it("deactivates blocked, deactivated and missing chats without retrying them", async () => {
    await seedSubscribers(h.app, [
      { id: 301, topics: ["energy"] },
      { id: 302, topics: ["energy"] },
      { id: 303, topics: ["energy"] },
      { id: 304, topics: ["energy"] },
    ]);
    h.emu.blockChat(302);
    h.emu.deactivateChat(303);
    h.emu.removeChat(304);
    const res = await postArticle(port, { url: "https://news.example.org/oil-2", title: "Oil output grows", topics: ["energy"] }, TOKEN);
    const rec = await waitForFanout(h.app, res.body.id as string);
    expect(rec).toMatchObject({ audience: 4, sent: 1, blocked: 3, failed: 0 });
    for (const id of [302, 303, 304]) {
      expect((await h.app.subscribers.get(id))?.status).toBe("blocked");
      expect(h.emu.calls.filter((c) => c.method === "sendMessage" && c.params.chat_id === id)).toHaveLength(1);
    }
    // The next article no longer goes to them at all.
    const next = await postArticle(port, { url: "https://news.example.org/oil-3", title: "Oil output grows again", topics: ["energy"] }, TOKEN);
    expect(await waitForFanout(h.app, next.body.id as string)).toMatchObject({ audience: 1, sent: 1 });
  });

  it("retries 5xx answers and delivers once", async () => {
    await seedSubscribers(h.app, [{ id: 401, topics: ["cybersecurity"] }, { id: 402, topics: ["cybersecurity"] }]);
    h.emu.failNext(2, { code: 502, method: "sendMessage" });
    const res = await postArticle(port, { url: "https://news.example.org/cyber-1", title: "Cybersecurity drill", topics: ["cybersecurity"] }, TOKEN);
    const rec = await waitForFanout(h.app, res.body.id as string);
    expect(rec).toMatchObject({ audience: 2, sent: 2, failed: 0 });
    for (const id of [401, 402]) expect(h.emu.sent(id)).toHaveLength(1);
  });

  it("sends a photo with a caption, and falls back to text when Telegram refuses the photo", async () => {
    await seedSubscribers(h.app, [{ id: 501, topics: ["energy"] }]);
    const ok = await postArticle(port, { url: "https://news.example.org/solar", title: "Solar plant opens", summary: "A ".repeat(2000), image_url: "https://img.example.org/solar.jpg", topics: ["energy"] }, TOKEN);
    await waitForFanout(h.app, ok.body.id as string);
    const photo = h.emu.sent(501).at(-1);
    expect(photo?.method).toBe("sendPhoto");
    expect(photo?.plainCaption?.length).toBeLessThanOrEqual(1024);

    // Every photo of this article is refused (other tests' energy readers are in the audience too).
    const energyReaders = await h.app.subscribers.countAudience(["energy"]);
    h.emu.failNext(energyReaders, { code: 400, description: "Bad Request: wrong type of the web page content", method: "sendPhoto" });
    const bad = await postArticle(port, { url: "https://news.example.org/wind", title: "Wind farm planned", image_url: "https://img.example.org/broken.html", topics: ["energy"] }, TOKEN);
    const rec = await waitForFanout(h.app, bad.body.id as string);
    // Other tests' energy readers are in this audience too; the point is nobody failed.
    expect(rec).toMatchObject({ sent: rec.audience, failed: 0 });
    const last = h.emu.sent(501).at(-1);
    expect(last?.method).toBe("sendMessage");
    expect(last?.plainText).toContain("Wind farm planned");
  });

  it("breaking news overtakes a normal article that is still being delivered", async () => {
    const chats = range(30_000, 60);
    await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["turkmenistan"] })));
    const audience = await h.app.subscribers.countAudience(["turkmenistan"]);
    expect(audience).toBeGreaterThanOrEqual(60);
    const normal = await postArticle(port, { url: "https://news.example.org/long-read", title: "Long read about Turkmenistan", topics: ["turkmenistan"] }, TOKEN);
    await h.emu.waitFor(() => h.emu.sent(chats[5]!).length > 0 || chats.some((c) => h.emu.sent(c).length > 3), 10_000);
    const breaking = await postArticle(port, { url: "https://news.example.org/breaking", title: "Breaking: earthquake drill in Ashgabat", topics: ["turkmenistan"], priority: "breaking" }, TOKEN);
    const recB = await waitForFanout(h.app, breaking.body.id as string, 30_000);
    const recN = await waitForFanout(h.app, normal.body.id as string, 30_000);
    expect(recB).toMatchObject({ audience, sent: audience });
    expect(recN).toMatchObject({ audience, sent: audience });
    // The breaking fan-out finished before the normal one, which was already running.
    expect(recB.finishedAt!).toBeLessThan(recN.finishedAt!);
    const gotBreakingFirst = chats.filter((c) => h.emu.sent(c)[0]?.plainText?.includes("Breaking"));
    expect(gotBreakingFirst.length).toBeGreaterThan(20);
    const breakingLines = chats.map((c) => h.emu.sent(c).find((e) => e.plainText?.includes("Breaking")));
    expect(breakingLines.every((e) => e?.plainText?.startsWith("⚡ BREAKING"))).toBe(true);
  });
});

describe("paid broadcasts", () => {
  it("with PAID_BROADCAST=true every message carries allow_paid_broadcast and uses the paid rate", async () => {
    const h = await startHarness({ env: { PAID_BROADCAST: "true", PAID_BROADCAST_RATE: "500" }, polling: false });
    try {
      const chats = range(40_000, 30);
      await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["energy"] })));
      const r = await h.app.ingest.ingest({ item: { url: "https://news.example.org/paid", title: "Paid delivery test", summary: "" }, source: { kind: "cms" }, explicitTopics: ["energy"] });
      const rec = await waitForFanout(h.app, r.id);
      expect(rec).toMatchObject({ paid: true, audience: 30, sent: 30 });
      for (const c of chats) expect(h.emu.sent(c)[0]?.allow_paid_broadcast).toBe(true);
    } finally {
      await h.stop();
    }
  });
});

describe("per-chat pacing", () => {
  it("keeps about a second between two messages to one chat, so Telegram's per-chat limit never trips", async () => {
    // The emulator allows exactly 1 message/s per chat, no burst: anything faster would be a 429.
    const h = await startHarness({ polling: false, emulator: { perChatRate: 1, perChatBurst: 1 } });
    try {
      const chats = range(50_000, 3);
      await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["energy", "cybersecurity"] })));
      const ids = [];
      for (const [i, topic] of ["energy", "cybersecurity", "energy"].entries()) {
        const r = await h.app.ingest.ingest({ item: { url: `https://news.example.org/pace-${i}`, title: `Pacing ${i}`, summary: "" }, source: { kind: "cms" }, explicitTopics: [topic] });
        ids.push(r.id);
      }
      for (const id of ids) expect(await waitForFanout(h.app, id)).toMatchObject({ sent: 3, failed: 0 });
      expect(h.emu.count429).toBe(0);
      for (const c of chats) {
        const at = h.emu.sent(c).map((e) => e.at);
        expect(at).toHaveLength(3);
        for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!, `chat ${c}`).toBeGreaterThanOrEqual(900);
      }
    } finally {
      await h.stop();
    }
  });
});

describe("persistent 5xx for one recipient", () => {
  it("retries with backoff, then records the recipient as failed with the reason", async () => {
    const h = await startHarness({ polling: false, tuning: { maxAttempts: 4, retryBaseMs: 600 } });
    try {
      await seedSubscribers(h.app, [{ id: 55_000, topics: ["energy"] }]);
      h.emu.failNext(4, { code: 500, description: "Internal Server Error", method: "sendMessage" });
      const r = await h.app.ingest.ingest({ item: { url: "https://news.example.org/fail", title: "Doomed", summary: "" }, source: { kind: "cms" }, explicitTopics: ["energy"] });
      const rec = await waitForFanout(h.app, r.id);
      expect(rec).toMatchObject({ audience: 1, sent: 0, failed: 1, failures: { "500: Internal Server Error": 1 } });
      const attempts = h.emu.calls.filter((c) => c.method === "sendMessage" && c.params.chat_id === 55_000);
      expect(attempts.map((c) => c.status)).toEqual([500, 500, 500, 500]);
      // Backoff: each retry waits longer than the one before.
      const gaps = attempts.slice(1).map((c, i) => c.at - attempts[i]!.at);
      expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
      expect(h.logs.some((l) => l.includes("delivery failed after retries"))).toBe(true);
    } finally {
      await h.stop();
    }
  });
});
