/**
 * Bad input, end to end: each case ends in a clear log line, HTTP answer or reply, nothing is lost
 * and nothing crashes. Cases already proven elsewhere are listed in docs/reliability.md with the
 * test that proves them; this file adds the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "bullmq";
import { request } from "node:http";
import { startHarness, type Harness } from "../support/harness.ts";
import { createFeedServer, type FeedServer } from "../support/feed-server.ts";
import { postArticle, seedSubscribers, waitForFanout, waitForStartupPolls } from "../support/seed.ts";
import { parseTelegramHtml } from "../support/telegram-html.ts";
import type { PollResult } from "../../jobs/processors/poll-feed.ts";
import { parseFeed } from "../../src/news/parse-feed.ts";
import { ADMIN, broadcastTo, buttonsOf, copiesPerChat, pressAs, report, seedAudience, tally, textHas } from "../support/reliability.ts";

const TOKEN = "reliability-ingest-token-0123";

const rss = (items: string, prolog = '<?xml version="1.0" encoding="UTF-8"?>') =>
  `${prolog}<rss version="2.0"><channel><title>Agency</title><link>https://news.example.org/</link><description>d</description>${items}</channel></rss>`;
const item = (fields: { guid?: string; link?: string; title?: string; description?: string; pubDate?: string }) =>
  `<item>${Object.entries(fields)
    .map(([k, v]) => `<${k}>${v}</${k}>`)
    .join("")}</item>`;

/** windows-1251 bytes for ASCII + the Russian alphabet. */
function cp1251(text: string): Buffer {
  return Buffer.from(
    [...text].map((ch) => {
      const c = ch.codePointAt(0)!;
      return c < 0x80 ? c : c >= 0x410 && c <= 0x44f ? c - 0x410 + 0xc0 : 0x3f;
    }),
  );
}

describe("hostile feeds, end to end (feed server → poll job → Telegram)", () => {
  let h: Harness;
  let feeds: FeedServer;
  const READER = 9_101;
  const PATHS = ["/hostile.xml", "/no-charset.xml", "/martian.xml", "/slow.xml"];

  async function poll(path: string): Promise<PollResult> {
    const job = (await h.app.queues.feeds.add("poll-feed", { url: feeds.url(path) })) as Job<{ url: string }, PollResult>;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const state = await job.getState();
      if (state === "completed" || state === "failed") break;
      if (Date.now() > deadline) throw new Error(`poll of ${path} did not finish`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return (await h.app.queues.feeds.getJob(job.id!))!.returnvalue as PollResult;
  }
  const got = (needle: string) => copiesPerChat(h.emu, [READER], textHas(needle))[0] ?? 0;

  beforeAll(async () => {
    feeds = createFeedServer();
    await feeds.start();
    const catalogText = `
topics:
  - { id: energy, title: { en: Energy, ru: Энергетика }, keywords: [gas] }
feeds:
${PATHS.map((p) => `  - { url: "${feeds.url(p)}", topics: [energy], every: 5m }`).join("\n")}
`;
    h = await startHarness({ polling: false, catalogText, env: { FEED_TIMEOUT_MS: "2000", FEED_MAX_BYTES: "100000" } });
    await seedSubscribers(h.app, [{ id: READER, topics: ["energy"] }]);
    await waitForStartupPolls(h.app, PATHS.length);
  });
  afterAll(async () => {
    await h?.stop();
    await feeds?.close();
  });

  it("script and HTML in titles, missing titles, bad or missing dates, duplicate guids: valid items go out once, escaped; the rest are logged", async () => {
    const old = item({ guid: "old-1", link: "https://news.example.org/old-1", title: "Old story" });
    feeds.setRoute("/hostile.xml", { body: rss(old), contentType: "application/rss+xml" });
    expect(await poll("/hostile.xml")).toMatchObject({ status: "ok", seen: 1 });

    const items = [
      // HTML and script in the title (CDATA), an image with an onerror handler.
      item({ guid: "h-1", link: "https://news.example.org/h-1", title: `<![CDATA[<script>alert("x")</script><b>Caspian</b> summit &amp; <img src=x onerror=alert(1)>talks <i>&lt;live&gt;</i>]]>`, pubDate: "yesterday" }),
      // No title: derived from the summary. No date at all.
      item({ guid: "h-2", link: "https://news.example.org/h-2", description: "Gas exports to the south grew by a fifth in the third quarter, the ministry said on Monday" }),
      // The same guid again in the same feed (a CMS glitch): skipped.
      item({ guid: "h-1", link: "https://news.example.org/h-1-copy", title: "Copy of the summit story" }),
      // Invalid date, markup-looking text that is just text.
      item({ guid: "h-3", link: "https://news.example.org/h-3?a=1&amp;b=2", title: "Tariffs: 5 &lt; 7 &amp;&amp; &quot;quotes&quot;", pubDate: "32 Jan 2026 99:00:00 GMT" }),
      // Unusable: a javascript: link, and an item with neither title nor summary.
      item({ guid: "h-4", link: "javascript:alert(1)", title: "Click me" }),
      item({ guid: "h-5", link: "https://news.example.org/h-5", title: "   ", description: "   " }),
      old,
    ];
    feeds.setRoute("/hostile.xml", { body: rss(items.join("")), contentType: "application/rss+xml" });
    const r = await poll("/hostile.xml");
    expect(r).toMatchObject({ status: "ok", items: 4, queued: 3, duplicates: 1, skipped: 3 });
    for (const reason of ["duplicate guid", "no usable http(s) url", "no title and no summary"]) {
      expect(h.logs.some((l) => l.includes("feed item skipped") && l.includes(reason)), reason).toBe(true);
    }

    await h.emu.waitFor(() => got("Caspian summit") === 1 && got("Gas exports") === 1 && got("Tariffs") === 1, 15_000);
    const summit = h.emu.sent(READER).find((e) => e.plainText?.includes("Caspian summit"));
    expect(summit?.plainText).toMatch(/^Caspian summit & talks <live>/);
    expect(summit?.plainText).not.toMatch(/script|alert|onerror/);
    // Only the formatter's own tags reach Telegram: the feed's markup arrives as text.
    expect(summit?.entities?.map((e) => e.type).sort()).toEqual(["bold", "text_link"]);
    const tariffs = h.emu.sent(READER).find((e) => e.plainText?.includes("Tariffs"));
    expect(tariffs?.plainText).toContain('Tariffs: 5 < 7 && "quotes"');
    expect(tariffs?.entities?.find((e) => e.type === "text_link")?.url).toBe("https://news.example.org/h-3?a=1&b=2");
    expect(got("Copy of the summit story")).toBe(0);
    expect(got("Click me")).toBe(0);

    // Polling the same feed again delivers nothing new.
    feeds.setRoute("/hostile.xml", { body: rss(items.join("")), contentType: "application/rss+xml" });
    expect(await poll("/hostile.xml")).toMatchObject({ status: "ok", queued: 0 });
    await new Promise((res) => setTimeout(res, 300));
    for (const t of ["Caspian summit", "Gas exports", "Tariffs"]) expect(got(t), t).toBe(1);
  });

  it("an opaque guid is never taken for the article's URL when the link is unusable", () => {
    // RSS says a guid without isPermaLink="false" is a permalink, but feeds often leave the
    // attribute off numeric ids; resolving "12345" against the feed URL would invent a dead link.
    const feed = parseFeed(Buffer.from(rss(item({ guid: "12345", title: "No link" }) + item({ guid: "67", link: "javascript:void(0)", title: "Bad link" }))), undefined, feeds.url("/hostile.xml"));
    expect(feed.items).toEqual([]);
    expect(feed.skipped.map((s) => s.reason)).toEqual(["no usable http(s) url", "no usable http(s) url"]);
    // An absolute permalink guid still stands in for a missing link.
    const ok = parseFeed(Buffer.from(rss(item({ guid: "https://news.example.org/g-1", title: "Guid link" }))), undefined, feeds.url("/hostile.xml"));
    expect(ok.items[0]?.url).toBe("https://news.example.org/g-1");
  });

  it("a missing charset over non-UTF-8 bytes still delivers (bad bytes shown as �); an unknown charset is a logged error", async () => {
    const body = (title: string, guid: string) => cp1251(rss(item({ guid, link: `https://news.example.org/${guid}`, title }), '<?xml version="1.0"?>'));
    feeds.setRoute("/no-charset.xml", { body: body("Старое", "cs-0"), contentType: "application/xml" });
    expect(await poll("/no-charset.xml")).toMatchObject({ status: "ok", seen: 1 });
    feeds.setRoute("/no-charset.xml", { body: body("Газ: Ашхабад gas deal", "cs-1"), contentType: "application/xml" });
    expect(await poll("/no-charset.xml")).toMatchObject({ status: "ok", queued: 1 });
    await h.emu.waitFor(() => got("gas deal") === 1, 15_000);
    expect(h.emu.sent(READER).find((e) => e.plainText?.includes("gas deal"))?.plainText).toContain("\uFFFD");

    feeds.setRoute("/martian.xml", { body: rss(item({ guid: "m-1", link: "https://news.example.org/m-1", title: "Martian gas" })), contentType: "application/rss+xml; charset=x-martian" });
    expect(await poll("/martian.xml")).toMatchObject({ status: "error", code: "charset" });
    expect(h.logs.some((l) => l.includes("feed poll failed") && l.includes(feeds.url("/martian.xml")) && l.includes("x-martian"))).toBe(true);
  });

  it("a slow server inside the timeout is fine; one past it is a logged timeout", async () => {
    feeds.setRoute("/slow.xml", { body: rss(item({ guid: "s-1", link: "https://news.example.org/s-1", title: "Slow" })), contentType: "application/rss+xml", delayMs: 600 });
    expect(await poll("/slow.xml")).toMatchObject({ status: "ok", seen: 1 });
    feeds.setRoute("/slow.xml", { chunks: ["<rss version=\"2.0\"><channel>", "<title>t</title>", "</channel></rss>"], chunkDelayMs: 1_500, contentType: "application/rss+xml" });
    expect(await poll("/slow.xml")).toMatchObject({ status: "error", code: "timeout" });
    expect(h.logs.some((l) => l.includes("feed poll failed") && l.includes(feeds.url("/slow.xml")))).toBe(true);
  });
});

describe("CMS ingest: bad and repeated requests", () => {
  let h: Harness;
  let port: number;
  beforeAll(async () => {
    h = await startHarness({ env: { INGEST_TOKEN: TOKEN, DELIVERY_RATE: "30" }, httpPort: 0, polling: false });
    port = h.app.httpPort!;
  });
  afterAll(() => h?.stop());

  it("the same article pushed 10 times at once (with tracking variants) is one article, delivered once", async () => {
    await seedSubscribers(h.app, [{ id: 9_201, topics: ["energy"] }]);
    const url = "https://news.example.org/concurrent-push";
    const variants = [url, `${url}?utm_source=a`, `${url}#top`, "http://www.news.example.org/concurrent-push", `${url}?fbclid=1`];
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postArticle(port, { url: variants[i % variants.length], title: "Gas deal signed", topics: ["energy"] }, TOKEN)));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
    expect(answers.filter((a) => a.body.status === "queued")).toHaveLength(1);
    expect(answers.filter((a) => a.body.status === "duplicate")).toHaveLength(9);
    await waitForFanout(h.app, answers[0]!.body.id as string);
    await new Promise((res) => setTimeout(res, 300));
    expect(copiesPerChat(h.emu, [9_201], textHas("Gas deal signed"))).toEqual([1]);
  });

  it("bodies that are not an article object, a streamed oversized body, wrong media type, method or auth scheme: clear 4xx answers", async () => {
    for (const raw of ["null", "42", '"an article"', "true", "[]", ""]) {
      const r = await postArticle(port, null, TOKEN, { raw });
      expect(r.status, raw).toBe(400);
      expect(r.body.problems, raw).toBeInstanceOf(Array);
    }
    const wrongTypes = await postArticle(port, { url: 42, title: ["t"], topics: "energy", image_url: "ftp://x.example/p.jpg" }, TOKEN);
    expect(wrongTypes.status).toBe(400);
    const problems = (wrongTypes.body.problems as string[]).join("\n");
    for (const field of ["url:", "title:", "topics:", "image_url:"]) expect(problems).toContain(field);

    expect((await postArticle(port, { url: "https://news.example.org/x", title: "X" }, TOKEN, { contentType: "text/plain" })).status).toBe(415);
    const basic = await fetch(`http://127.0.0.1:${port}/api/articles`, { method: "POST", headers: { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString("base64")}`, "content-type": "application/json" }, body: "{}" });
    expect(basic.status).toBe(401);
    expect(basic.headers.get("www-authenticate")).toBe("Bearer");
    expect((await fetch(`http://127.0.0.1:${port}/api/articles`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);

    // 1 MB streamed without Content-Length: refused once it passes 64 KiB, not buffered whole.
    const streamed = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/api/articles", method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}`, "transfer-encoding": "chunked" } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write(`{"url":"https://news.example.org/huge","title":"huge","summary":"`);
      for (let i = 0; i < 16; i++) req.write("a".repeat(64 * 1024));
      req.end(`"}`);
    }).catch((err: unknown) => (err as NodeJS.ErrnoException).code ?? "error");
    // Either the 413 arrives, or the server cut the upload short after answering it.
    expect([413, "ECONNRESET", "EPIPE"]).toContain(streamed);

    // The service is fine afterwards.
    expect((await postArticle(port, { url: "https://news.example.org/after-bad-input", title: "Still here" }, TOKEN)).status).toBe(202);
    expect(h.logs.some((l) => l.includes("HTTP request failed"))).toBe(false);
  });

  it("articles longer than Telegram allows are delivered within 4096 (text) and 1024 (caption), the link intact", async () => {
    const chat = 9_202;
    await seedSubscribers(h.app, [{ id: chat, topics: ["cybersecurity"] }]);
    // The API's own maxima: a 1000-character title and a 20,000-character summary, full of markup.
    const title = "<b>Ransomware</b> & \"wipers\" &amp; <a href='x'>more</a> ".repeat(18).slice(0, 1000);
    const summary = "Paragraph with <script>x</script> & &lt;entities&gt; 😀👨‍👩‍👧 Ашхабад.\n\n".repeat(300).slice(0, 20_000);
    const text = await postArticle(port, { url: "https://news.example.org/long?x=1&y=<2>", title, summary, topics: ["cybersecurity"] }, TOKEN);
    const photo = await postArticle(port, { url: "https://news.example.org/long-photo", title, summary, image_url: "https://img.example.org/p.jpg", topics: ["cybersecurity"] }, TOKEN);
    expect([text.status, photo.status]).toEqual([202, 202]);
    expect(await waitForFanout(h.app, text.body.id as string)).toMatchObject({ sent: 1, failed: 0 });
    expect(await waitForFanout(h.app, photo.body.id as string)).toMatchObject({ sent: 1, failed: 0 });

    const [asText, asPhoto] = h.emu.sent(chat);
    expect(asText?.method).toBe("sendMessage");
    expect(asText!.plainText!.length).toBeLessThanOrEqual(4096);
    expect(asText!.plainText!.length).toBeGreaterThan(4000);
    expect(asText?.entities?.find((e) => e.type === "text_link")?.url).toBe("https://news.example.org/long?x=1&y=<2>");
    expect(asPhoto?.method).toBe("sendPhoto");
    expect(asPhoto!.plainCaption!.length).toBeLessThanOrEqual(1024);
    expect(asPhoto?.caption_entities?.find((e) => e.type === "text_link")?.url).toBe("https://news.example.org/long-photo");
    // What Telegram shows is the text, not markup: parsing the HTML gives exactly the visible text.
    expect(parseTelegramHtml(asText!.text!).text.trim()).toBe(asText!.plainText);
    report("over-long CMS article", { textChars: asText!.plainText!.length, captionChars: asPhoto!.plainCaption!.length });

    // One character over the API's own limit is a 400 that says which field and why.
    const tooLong = await postArticle(port, { url: "https://news.example.org/too-long", title: "t".repeat(1001) }, TOKEN);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.problems).toContain("title: must be at most 1000 characters");
  });
});

describe("Telegram side: replayed buttons and readers who block the bot mid-broadcast", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { ADMIN_IDS: String(ADMIN.id), DELIVERY_RATE: "30" }, tuning: { progressIntervalMs: 300 } });
  });
  afterAll(() => h?.stop());

  const sub = (chatId: number) => h.redis.hgetall(`{${h.config.redisPrefix}}:sub:${chatId}`);
  /** The record's topic list and the topic bitmaps say the same thing. */
  async function expectConsistent(chatId: number) {
    const rec = await sub(chatId);
    const uid = Number(rec.uid);
    for (const t of h.catalog.topics) {
      const bit = await h.redis.getbit(`{${h.config.redisPrefix}}:topic:${t.id}`, uid);
      expect(bit, `${chatId} ${t.id}`).toBe(rec.topics?.split(",").includes(t.id) ? 1 : 0);
    }
    return rec.topics;
  }

  it("an old picker pressed again (after Done, or a second picker open) and a double tap: answered, state consistent", async () => {
    const user = { id: 9_301, language_code: "en" };
    h.emu.sendCommand(user, "start");
    const picker = await h.emu.waitFor(() => h.emu.sent(user.id)[1]);
    expect((await pressAs(h.emu, user.id, picker.message_id, "tp:t:energy")).text).toBe("Added: Energy");
    await pressAs(h.emu, user.id, picker.message_id, "tp:done");
    await h.emu.waitFor(() => h.emu.message(user.id, picker.message_id)?.text?.includes("Saved"));

    // The keyboard is gone, but a client may still send the old button's data.
    const replay = await pressAs(h.emu, user.id, picker.message_id, "tp:t:cybersecurity", { force: true });
    expect(replay.text).toBe("Added: Cybersecurity");
    expect(await expectConsistent(user.id)).toBe("cybersecurity,energy");

    // Two pickers open: the older one acts on the current choice, not on what it showed.
    h.emu.sendCommand(user, "topics");
    const second = await h.emu.waitFor(() => h.emu.sent(user.id).filter((e) => e.method === "sendMessage")[2]);
    expect((await pressAs(h.emu, user.id, picker.message_id, "tp:t:energy", { force: true })).text).toBe("Removed: Energy");
    expect(buttonsOf(second).find((b) => b.data === "tp:t:energy")?.text).toBe("✅ Energy"); // stale view
    expect((await pressAs(h.emu, user.id, second.message_id, "tp:t:energy")).text).toBe("Added: Energy");
    expect(await expectConsistent(user.id)).toBe("cybersecurity,energy");

    // A double tap: both presses land, in order; the end state is consistent.
    const before = h.emu.callbackAnswers.length;
    h.emu.pressButton(user.id, second.message_id, "tp:t:turkmenistan", { force: true });
    h.emu.pressButton(user.id, second.message_id, "tp:t:turkmenistan", { force: true });
    await h.emu.waitFor(() => h.emu.callbackAnswers.length >= before + 2);
    expect(h.emu.callbackAnswers.slice(before).map((a) => a.text)).toEqual(["Added: Turkmenistan", "Removed: Turkmenistan"]);
    expect(await expectConsistent(user.id)).toBe("cybersecurity,energy");
    expect(h.logs.some((l) => /"level":50/.test(l))).toBe(false);
  });

  it("readers who block the bot during a broadcast are counted blocked and deactivated; the rest get it; stale and forged stop buttons change nothing", async () => {
    const chats = await seedAudience(h.app, 9_400_000, 60, ["digital_economy"]);
    const text = "Fintech sandbox: applications open";
    const { id, status } = await broadcastTo(h.emu, text, ["digital_economy"]);
    const reached = () => tally(copiesPerChat(h.emu, chats, textHas(text))).reached;
    await h.emu.waitFor(() => reached() >= 5, 15_000);
    // The last ten (not reached yet at 30/s): five block the bot and the bot hears of it
    // (my_chat_member), five are refused by Telegram only (403 at send time).
    const leaving = chats.slice(-10);
    for (const c of leaving.slice(0, 5)) h.emu.myChatMember({ id: c }, "kicked");
    for (const c of leaving.slice(5)) h.emu.blockChat(c);

    // Meanwhile a non-admin forges the broadcast's stop button: it is not theirs to press.
    const stranger = { id: 9_302, language_code: "en" };
    h.emu.sendCommand(stranger, "help");
    const strangerMsg = await h.emu.waitFor(() => h.emu.sent(stranger.id)[0]);
    const forged = await pressAs(h.emu, stranger.id, strangerMsg.message_id, `bcx:${id}`, { force: true });
    expect(forged.text).toBe("This button is no longer valid. Send /topics to open a fresh picker.");

    const rec = await waitForFanout(h.app, id, 30_000);
    expect(rec).toMatchObject({ state: "done", audience: 60, sent: 50, blocked: 10, failed: 0 });
    const t = tally(copiesPerChat(h.emu, chats, textHas(text)));
    expect(t).toEqual({ missing: 10, duplicates: 0, reached: 50 });
    for (const c of leaving) expect((await sub(c)).status, String(c)).toBe("blocked");
    expect(h.logs.some((l) => l.includes("recipient unreachable; subscriber deactivated"))).toBe(true);
    await h.emu.waitFor(() => h.emu.message(ADMIN.id, status.message_id)?.plainText?.includes("Broadcast finished"), 10_000);
    expect(h.emu.message(ADMIN.id, status.message_id)?.plainText).toContain("Audience: 60 · Sent: 50 · Failed: 0 · Blocked: 10");

    // The stop button pressed again after the end, and one for a broadcast that never existed.
    const stale = await pressAs(h.emu, ADMIN.id, status.message_id, `bcx:${id}`, { force: true });
    expect(stale.text).toBe("This broadcast has already ended.");
    const unknown = await pressAs(h.emu, ADMIN.id, status.message_id, "bcx:b0123456789abcdef", { force: true });
    expect(unknown.text).toBe("This broadcast has already ended.");
    expect((await h.app.deliveries.record(id))?.state).toBe("done");
    report("readers blocking mid broadcast", { audience: rec.audience, sent: rec.sent, blocked: rec.blocked });
  });
});
