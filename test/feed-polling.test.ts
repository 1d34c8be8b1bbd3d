import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Job } from "bullmq";
import { startHarness, uniquePrefix, type Harness } from "./support/harness.ts";
import { createFeedServer, type FeedServer } from "./support/feed-server.ts";
import { seedSubscribers, waitForStartupPolls } from "./support/seed.ts";
import type { PollResult } from "../jobs/processors/poll-feed.ts";

interface Item {
  guid: string;
  link: string;
  title: string;
  description?: string;
}

const rss = (items: Item[], encoding = "UTF-8") =>
  `<?xml version="1.0" encoding="${encoding}"?><rss version="2.0"><channel><title>Agency</title><link>https://news.example.org/</link><description>d</description>${items
    .map((i) => `<item><guid>${i.guid}</guid><link>${i.link}</link><title>${i.title}</title><description>${i.description ?? ""}</description><pubDate>Wed, 25 Nov 2026 10:00:00 GMT</pubDate></item>`)
    .join("")}</channel></rss>`;

const atom = (items: Item[]) =>
  `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Tech desk</title><id>urn:tech</id><updated>2026-11-25T10:00:00Z</updated>${items
    .map((i) => `<entry><id>${i.guid}</id><title>${i.title}</title><link rel="alternate" href="${i.link}"/><updated>2026-11-25T10:00:00Z</updated><summary>${i.description ?? ""}</summary></entry>`)
    .join("")}</feed>`;

/** windows-1251 bytes for Cyrillic text (enough of the table for the test's words). */
function cp1251(text: string): Buffer {
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c >= 0x410 && c <= 0x44f) out.push(c - 0x410 + 0xc0);
    else if (c === 0x401) out.push(0xa8);
    else if (c === 0x451) out.push(0xb8);
    else out.push(0x3f);
  }
  return Buffer.from(out);
}

describe("feed polling", () => {
  let h: Harness;
  let feeds: FeedServer;
  let prefix: string;
  const catalogFor = (list: Array<{ path: string; topics: string[]; every?: string }>) => `
topics:
  - { id: turkmenistan, title: { en: Turkmenistan, ru: Туркменистан }, keywords: [Ashgabat, Ашхабад] }
  - { id: energy, title: { en: Energy, ru: Энергетика }, keywords: [natural gas] }
  - { id: cybersecurity, title: { en: Cybersecurity, ru: Кибербезопасность }, keywords: [ransomware] }
feeds:
${list.map((f) => `  - { url: "${feeds.url(f.path)}", topics: [${f.topics.join(", ")}], every: ${f.every ?? "5m"} }`).join("\n")}
`;
  const FEEDS = [
    { path: "/a.xml", topics: ["energy"] },
    { path: "/b.xml", topics: ["energy"] },
    { path: "/cp1251.xml", topics: [] },
    { path: "/broken.xml", topics: ["energy"] },
    { path: "/huge.xml", topics: ["energy"] },
    { path: "/bomb.xml", topics: ["energy"] },
    { path: "/loop.xml", topics: ["energy"] },
    { path: "/hang.xml", topics: ["energy"] },
  ];

  async function poll(path: string): Promise<PollResult> {
    const job = (await h.app.queues.feeds.add("poll-feed", { url: feeds.url(path) })) as Job<{ url: string }, PollResult>;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const state = await job.getState();
      if (state === "completed" || state === "failed") break;
      if (Date.now() > deadline) throw new Error(`poll of ${path} did not finish`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const done = await h.app.queues.feeds.getJob(job.id!);
    return done!.returnvalue as PollResult;
  }

  const gotTitle = (chat: number, title: string) => h.emu.sent(chat).filter((e) => e.plainText?.includes(title)).length;

  beforeAll(async () => {
    feeds = createFeedServer();
    await feeds.start();
    prefix = uniquePrefix();
    h = await startHarness({
      prefix,
      polling: false,
      catalogText: catalogFor(FEEDS),
      env: { FEED_TIMEOUT_MS: "1000", FEED_MAX_BYTES: "100000", FEED_MAX_REDIRECTS: "3" },
    });
    await seedSubscribers(h.app, [
      { id: 9001, topics: ["energy"] },
      { id: 9002, topics: ["turkmenistan"] },
      { id: 9003, topics: ["cybersecurity"] },
    ]);
    await waitForStartupPolls(h.app, FEEDS.length);
  });
  afterAll(async () => {
    await h?.stop();
    await feeds?.close();
  });

  it("keeps one job scheduler per catalog feed, at the feed's own interval", async () => {
    const schedulers = await h.app.queues.feeds.getJobSchedulers(0, -1);
    expect(schedulers.map((s) => s.key).sort()).toEqual(FEEDS.map((f) => `feed:${feeds.url(f.path)}`).sort());
    expect(schedulers.every((s) => s.every === 300_000)).toBe(true);
  });

  it("first poll remembers existing items; new items go to matching subscribers; conditional GET is honoured", async () => {
    const old = [
      { guid: "a-1", link: "https://news.example.org/a-1", title: "Old natural gas story" },
      { guid: "a-2", link: "https://news.example.org/a-2", title: "Older story" },
    ];
    feeds.setRoute("/a.xml", { body: rss(old), contentType: "application/rss+xml", etag: '"v1"' });
    const first = await poll("/a.xml");
    expect(first).toMatchObject({ status: "ok", items: 2, seen: 2, queued: 0 });
    await new Promise((r) => setTimeout(r, 300));
    expect(h.emu.sent(9001)).toHaveLength(0);

    const fresh = { guid: "a-3", link: "https://news.example.org/a-3", title: "Gas field expansion approved" };
    feeds.setRoute("/a.xml", { body: rss([fresh, ...old]), contentType: "application/rss+xml", etag: '"v2"' });
    expect(await poll("/a.xml")).toMatchObject({ status: "ok", queued: 1, duplicates: 2 });
    await h.emu.waitFor(() => gotTitle(9001, "Gas field expansion approved") === 1);
    expect(h.emu.sent(9002)).toHaveLength(0);

    // Unchanged feed: the request carries the stored ETag and the server answers 304.
    const before = feeds.requests.length;
    expect(await poll("/a.xml")).toEqual({ status: "not-modified" });
    expect(feeds.requests[before]?.headers["if-none-match"]).toBe('"v2"');

    // An edited item (same guid, new title) is not delivered again.
    feeds.setRoute("/a.xml", { body: rss([{ ...fresh, title: "Gas field expansion approved (corrected)" }, ...old]), contentType: "application/rss+xml", etag: '"v3"' });
    expect(await poll("/a.xml")).toMatchObject({ status: "ok", queued: 0, duplicates: 3 });
  });

  it("the same article in two feeds goes out once", async () => {
    feeds.setRoute("/b.xml", { body: atom([{ guid: "urn:b-1", link: "https://news.example.org/b-1", title: "Tech desk intro" }]), contentType: "application/atom+xml" });
    expect(await poll("/b.xml")).toMatchObject({ status: "ok", seen: 1 });
    const shared = { guid: "shared-1", link: "https://news.example.org/shared?utm_source=rss", title: "Pipeline talks resume" };
    feeds.setRoute("/a.xml", { body: rss([shared]), contentType: "application/rss+xml", etag: '"v4"' });
    feeds.setRoute("/b.xml", { body: atom([{ ...shared, guid: "urn:other-id", link: "https://www.news.example.org/shared" }]), contentType: "application/atom+xml" });
    const [ra, rb] = [await poll("/a.xml"), await poll("/b.xml")];
    expect([ra, rb].map((r) => (r.status === "ok" ? r.queued : -1)).sort()).toEqual([0, 1]);
    await h.emu.waitFor(() => gotTitle(9001, "Pipeline talks resume") === 1);
    await new Promise((r) => setTimeout(r, 500));
    expect(gotTitle(9001, "Pipeline talks resume")).toBe(1);
  });

  it("decodes a windows-1251 feed and matches Cyrillic keywords", async () => {
    const item = (n: number, title: string) => ({ guid: `cp-${n}`, link: `https://news.example.org/ru/${n}`, title });
    feeds.setRoute("/cp1251.xml", { body: cp1251(rss([item(1, "Старая новость")], "windows-1251")), contentType: "application/xml" });
    expect(await poll("/cp1251.xml")).toMatchObject({ status: "ok", seen: 1 });
    feeds.setRoute("/cp1251.xml", { body: cp1251(rss([item(2, "Выставка в Ашхабад открылась"), item(1, "Старая новость")], "windows-1251")), contentType: "application/xml" });
    expect(await poll("/cp1251.xml")).toMatchObject({ status: "ok", queued: 1 });
    await h.emu.waitFor(() => gotTitle(9002, "Выставка в Ашхабад открылась") === 1);
  });

  it("bad feeds end with a logged reason naming the feed, and never stop the others", async () => {
    feeds.setRoute("/broken.xml", { body: "<rss><channel><item><title>Oops</title></channel>", contentType: "application/rss+xml" });
    feeds.setRoute("/huge.xml", { body: rss([{ guid: "h", link: "https://news.example.org/h", title: "x".repeat(200_000) }]), contentType: "application/rss+xml" });
    feeds.setRoute(
      "/bomb.xml",
      {
        body: `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><rss version="2.0"><channel><title>&lol3;</title><item><title>&lol3;</title><link>https://news.example.org/bomb</link></item></channel></rss>`,
        contentType: "application/rss+xml",
      },
    );
    feeds.setRoute("/loop.xml", { redirectTo: feeds.url("/loop.xml"), status: 302 });
    feeds.setRoute("/hang.xml", { hang: true });

    const expected: Record<string, string> = { "/broken.xml": "parse", "/huge.xml": "too-large", "/bomb.xml": "unsafe", "/loop.xml": "too-many-redirects", "/hang.xml": "timeout" };
    for (const [path, code] of Object.entries(expected)) {
      const r = await poll(path);
      expect(r, path).toMatchObject({ status: "error", code });
      expect(h.logs.some((l) => l.includes("feed poll failed") && l.includes(feeds.url(path))), path).toBe(true);
    }
    // The worker is fine and the other feeds still deliver.
    feeds.setRoute("/a.xml", { body: rss([{ guid: "a-9", link: "https://news.example.org/a-9", title: "Ransomware gang arrested" }]), contentType: "application/rss+xml", etag: '"v9"' });
    expect(await poll("/a.xml")).toMatchObject({ status: "ok", queued: 1 });
    await h.emu.waitFor(() => gotTitle(9003, "Ransomware gang arrested") === 1 && gotTitle(9001, "Ransomware gang arrested") === 1);
  });

  it("re-syncs schedulers at start-up: removed feeds are dropped, changed intervals applied", async () => {
    const other = await startHarness({
      prefix,
      emu: h.emu,
      role: "bot",
      polling: false,
      catalogText: catalogFor([{ path: "/a.xml", topics: ["energy"], every: "2m" }, { path: "/new.xml", topics: [] }]),
    });
    try {
      const schedulers = await other.app.queues.feeds.getJobSchedulers(0, -1);
      expect(schedulers.map((s) => [s.key, s.every]).sort()).toEqual(
        [[`feed:${feeds.url("/a.xml")}`, 120_000], [`feed:${feeds.url("/new.xml")}`, 300_000]].sort(),
      );
    } finally {
      // Only stop its app: the keys belong to the outer harness.
      await other.app.stop();
      other.redis.disconnect();
    }
  });
});
