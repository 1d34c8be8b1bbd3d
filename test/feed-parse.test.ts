import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FeedError, MAX_SUMMARY_CHARS, parseDate, parseFeed } from "../src/news/parse-feed.ts";

const BASE = "https://news.example.tm/rss/feed.xml";

function fixture(name: string): Buffer {
  return readFileSync(new URL(`./fixtures/feeds/${name}`, import.meta.url));
}

function feedError(fn: () => unknown): FeedError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FeedError) return err;
    throw err;
  }
  throw new Error("expected a FeedError");
}

/** Minimal windows-1251 encoder (ASCII + Russian alphabet) so the test owns its bytes. */
function encodeCp1251(text: string): Buffer {
  const bytes: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) bytes.push(cp);
    else if (cp >= 0x410 && cp <= 0x44f) bytes.push(cp - 0x410 + 0xc0);
    else if (cp === 0x401) bytes.push(0xa8); // Ё
    else if (cp === 0x451) bytes.push(0xb8); // ё
    else if (cp === 0xab) bytes.push(0xab); // «
    else if (cp === 0xbb) bytes.push(0xbb); // »
    else throw new Error(`no windows-1251 byte for ${ch}`);
  }
  return Buffer.from(bytes);
}

function rss(items: string, prolog = '<?xml version="1.0" encoding="UTF-8"?>'): string {
  return `${prolog}\n<rss version="2.0"><channel><title>Test</title><link>https://news.example.tm/</link>${items}</channel></rss>`;
}

describe("parseFeed: formats", () => {
  it("parses RSS 2.0 with media, enclosures and Russian content", () => {
    const feed = parseFeed(fixture("rss2.xml"), "application/rss+xml; charset=utf-8", BASE);
    expect(feed.format).toBe("rss");
    expect(feed.title).toBe("Türkmenistan: Altyn asyr & News");
    expect(feed.skipped).toEqual([]);
    expect(feed.items).toHaveLength(3);

    expect(feed.items[0]).toEqual({
      guid: "tm-2024-0115-001",
      url: "https://news.example.tm/ru/news/2024/01/15/cabinet",
      title: "Президент Туркменистана провёл заседание Кабинета министров",
      // description preferred over content:encoded; the feed double-escaped "&amp;amp;"
      summary: "На заседании обсуждались итоги года & планы на 2024 год.",
      imageUrl: "https://cdn.example.tm/img/cabinet.jpg",
      publishedAt: "2024-01-15T05:30:00.000Z",
    });
    // relative link resolved against the feed URL, media:thumbnail beats the inline <img>
    expect(feed.items[1]).toMatchObject({
      url: "https://news.example.tm/en/news/2024/01/16/gas-congress",
      summary: "Delegates from Kazakhstan, Uzbekistan and China.",
      imageUrl: "https://cdn.example.tm/thumb/gas.jpg",
      publishedAt: "2024-01-16T03:00:00.000Z",
    });
    // script/style removed with their content, tags stripped, &nbsp;/&mdash; decoded, whitespace collapsed
    expect(feed.items[2]?.title).toBe("Ашхабад принимает выставку «Туркментел»");
    expect(feed.items[2]?.summary).toBe("Выставка связи — в столице.");
    expect(feed.items[2]?.imageUrl).toBe("https://cdn.example.tm/expo.jpg");
    expect(feed.items[2]).not.toHaveProperty("publishedAt"); // "Article 12"
  });

  it("parses RSS 1.0 / RDF", () => {
    const feed = parseFeed(fixture("rdf.xml"), "application/rdf+xml", "https://asia.example.kz/rss.rdf");
    expect(feed.format).toBe("rdf");
    expect(feed.title).toBe("Central Asia Daily");
    expect(feed.items).toEqual([
      {
        guid: "https://asia.example.kz/news/1",
        url: "https://asia.example.kz/news/1",
        title: "Kazakhstan and Turkmenistan sign a rail transit agreement",
        summary: "The agreement covers the North–South corridor.",
        publishedAt: "2024-02-01T12:00:00.000Z",
      },
      {
        guid: "https://asia.example.kz/news/2",
        url: "https://asia.example.kz/news/2",
        title: "Каракумский канал: начат ремонт",
        summary: "Работы продлятся до осени.",
        publishedAt: "2024-02-02T00:00:00.000Z",
      },
    ]);
  });

  it("parses Atom: alternate link, html title, xhtml content, image enclosure", () => {
    const feed = parseFeed(fixture("atom.xml"), "application/atom+xml", "https://orient.example.tm/atom.xml");
    expect(feed.format).toBe("atom");
    expect(feed.title).toBe("Orient Turkmen Service");
    expect(feed.items[0]).toEqual({
      guid: "tag:orient.example.tm,2024:entry-1",
      url: "https://orient.example.tm/en/news/cotton",
      title: "Mary cotton harvest exceeds plan",
      summary: "Farmers in Mary velayat delivered 102% of the planned harvest.",
      imageUrl: "https://orient.example.tm/img/cotton.png",
      publishedAt: "2024-03-01T03:00:00.000Z",
    });
    expect(feed.items[1]).toEqual({
      guid: "tag:orient.example.tm,2024:entry-2",
      url: "https://orient.example.tm/ru/news/port",
      title: "Туркменбаши: открыт новый морской порт",
      summary: "Порт рассчитан на 17 млн тонн грузов в год.",
      imageUrl: "https://orient.example.tm/img/port.jpg",
      publishedAt: "2024-03-02T10:00:00.000Z",
    });
  });

  it("parses JSON Feed: external_url, numeric id, derived title, invalid date, banner image", () => {
    const feed = parseFeed(fixture("feed.json"), "application/feed+json", "https://portal.example.tm/feed.json");
    expect(feed.format).toBe("json");
    expect(feed.title).toBe("Turkmen Portal");
    expect(feed.items[0]).toEqual({
      guid: "portal-501",
      url: "https://portal.example.tm/ru/news/501",
      title: "В Ашхабаде прошёл международный марафон",
      summary: "Более 3000 участников из 20 стран.",
      imageUrl: "https://portal.example.tm/img/501.jpg",
      publishedAt: "2024-04-07T01:00:00.000Z",
    });
    const derived = feed.items[1];
    expect(derived?.guid).toBe("502");
    expect(derived?.url).toBe("https://partner.example.uz/news/abc");
    expect(derived?.title).toBe("Uzbekistan and Turkmenistan opened a new border crossing point near Farap…");
    expect(derived?.summary.startsWith("Uzbekistan and Turkmenistan opened")).toBe(true);
    expect(derived?.imageUrl).toBe("https://portal.example.tm/img/farap.jpg");
    expect(derived).not.toHaveProperty("publishedAt");
    expect(feed.items[2]).toMatchObject({
      summary: "Проект обсуждается.",
      imageUrl: "https://portal.example.tm/img/503-banner.jpg",
      publishedAt: "2024-04-08T10:00:00.000Z",
    });
  });
});

describe("parseFeed: charsets", () => {
  const title = "Туркменистан: новости «Нейтральный Туркменистан» — ёлка";
  const cp1251Title = title.replace(" —", ""); // no em dash in our tiny encoder
  const itemXml = `<item><title>${cp1251Title}</title><link>https://news.example.tm/1</link></item>`;

  it("decodes windows-1251 declared in the XML prolog", () => {
    const bytes = encodeCp1251(rss(itemXml, '<?xml version="1.0" encoding="windows-1251"?>'));
    // Sanity: these bytes really are not UTF-8, so a UTF-8 decode would garble the title.
    expect(bytes.toString("utf8")).not.toContain("Туркменистан");
    const feed = parseFeed(bytes, "application/rss+xml", BASE);
    expect(feed.items[0]?.title).toBe(cp1251Title);
  });

  it("decodes windows-1251 declared only in the HTTP header", () => {
    const bytes = encodeCp1251(rss(itemXml, '<?xml version="1.0"?>'));
    const feed = parseFeed(bytes, 'text/xml; charset="windows-1251"', BASE);
    expect(feed.items[0]?.title).toBe(cp1251Title);
  });

  it("lets the header charset win over a wrong prolog", () => {
    const bytes = encodeCp1251(rss(itemXml, '<?xml version="1.0" encoding="utf-8"?>'));
    const feed = parseFeed(bytes, "application/xml; charset=cp1251", BASE);
    expect(feed.items[0]?.title).toBe(cp1251Title);
  });

  it("decodes UTF-16 with a BOM", () => {
    const xml = rss(`<item><title>${title}</title><link>https://news.example.tm/1</link></item>`, '<?xml version="1.0" encoding="UTF-16"?>');
    const bytes = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, "utf16le")]);
    expect(parseFeed(bytes, "application/rss+xml", BASE).items[0]?.title).toBe(title);
  });

  it("strips a UTF-8 BOM", () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(rss(itemXml))]);
    expect(parseFeed(bytes, undefined, BASE).items[0]?.title).toBe(cp1251Title);
  });

  it("rejects an unknown charset, naming it", () => {
    const fromHeader = feedError(() => parseFeed(Buffer.from(rss(itemXml)), "text/xml; charset=x-martian", BASE));
    expect(fromHeader.code).toBe("charset");
    expect(fromHeader.reason).toContain("x-martian");
    const fromProlog = feedError(() =>
      parseFeed(Buffer.from(rss(itemXml, '<?xml version="1.0" encoding="klingon-8"?>')), undefined, BASE),
    );
    expect(fromProlog.code).toBe("charset");
    expect(fromProlog.reason).toContain("klingon-8");
  });
});

describe("parseFeed: bad and hostile input", () => {
  it("reports broken XML with the parser's message", () => {
    const err = feedError(() => parseFeed(fixture("broken.xml"), "text/xml", BASE));
    expect(err).toBeInstanceOf(FeedError);
    expect(err.code).toBe("parse");
    expect(err.reason).toMatch(/^malformed XML: .*link/);
  });

  it("rejects a truncated document instead of returning partial items", () => {
    const full = rss(`<item><title>A</title><link>https://news.example.tm/a</link></item>`);
    const err = feedError(() => parseFeed(Buffer.from(full.slice(0, full.indexOf("</channel>"))), undefined, BASE));
    expect(err.code).toBe("parse");
    expect(err.reason).toContain("not closed");
  });

  it("rejects billion laughs before parsing, quickly", () => {
    const started = performance.now();
    const err = feedError(() => parseFeed(fixture("billion-laughs.xml"), "application/rss+xml", BASE));
    expect(err.code).toBe("unsafe");
    expect(err.reason).toBe("DTD/entity declarations are not allowed");
    expect(performance.now() - started).toBeLessThan(200);
  });

  it("rejects a bare <!ENTITY> and an internal subset even with a lowercase doctype", () => {
    const subset = `<?xml version="1.0"?><!doctype rss [ ]>${rss("", "")}`;
    expect(feedError(() => parseFeed(Buffer.from(subset), undefined, BASE)).code).toBe("unsafe");
    const entity = rss(`<!ENTITY x "y"><item><title>a</title><link>https://x.tm/</link></item>`);
    expect(feedError(() => parseFeed(Buffer.from(entity), undefined, BASE)).code).toBe("unsafe");
  });

  it("allows an external DOCTYPE without internal subset and <!ENTITY in CDATA", () => {
    const xml = rss(
      `<item><title>XML tips</title><link>https://news.example.tm/x</link><description><![CDATA[Never allow <!ENTITY lol "lol"> in input]]></description></item>`,
      '<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd">',
    );
    const feed = parseFeed(Buffer.from(xml), undefined, BASE);
    expect(feed.items[0]?.summary).toBe("Never allow in input");
    expect(feed.items[0]?.title).toBe("XML tips");
  });

  it("leaves undeclared custom entities literal (feedsmith never expands DTD entities)", () => {
    const feed = parseFeed(
      Buffer.from(rss(`<item><title>&lol9; &amp; &#1055;&#x440;&laquo;и&raquo;</title><link>https://x.tm/1</link></item>`)),
      undefined,
      BASE,
    );
    expect(feed.items[0]?.title).toBe("&lol9; & Пр«и»");
  });

  it("rejects HTML pages, random JSON, plain text and empty bodies as not-a-feed", () => {
    const html = feedError(() => parseFeed(fixture("not-a-feed.html"), "text/html; charset=utf-8", BASE));
    expect(html.code).toBe("not-a-feed");
    expect(html.reason).toMatch(/^not a recognised feed format/);
    for (const body of ['{"status":"ok","data":[1,2,3]}', "[1,2,3]", "Service Unavailable", "", "  \n"]) {
      expect(feedError(() => parseFeed(Buffer.from(body), "application/json", BASE)).code).toBe("not-a-feed");
    }
    // an <rss> root that feedsmith does not recognise as RSS
    expect(feedError(() => parseFeed(Buffer.from("<rss></rss>"), undefined, BASE)).code).toBe("not-a-feed");
  });

  it("reports malformed JSON as a parse error", () => {
    const err = feedError(() => parseFeed(Buffer.from('{"version": "https://jsonfeed.org/version/1.1", "items": ['), undefined, BASE));
    expect(err.code).toBe("parse");
    expect(err.reason).toMatch(/^malformed JSON/);
  });
});

describe("parseFeed: item normalisation", () => {
  it("derives missing titles, skips unusable items and duplicate guids", () => {
    const xml = rss(`
      <item><title>First</title><link>https://news.example.tm/1</link><guid>g-1</guid></item>
      <item><title>Copy of first</title><link>https://news.example.tm/1-copy</link><guid>g-1</guid></item>
      <item><description>Туркменистан и Азербайджан подписали меморандум о сотрудничестве в энергетике и транспорте на Каспии</description><link>/2</link></item>
      <item><title>No link at all</title></item>
      <item><title>Script link</title><link>javascript:alert(1)</link></item>
      <item><title>Permalink guid only</title><guid>https://news.example.tm/3</guid></item>
      <item><title>Non-permalink guid only</title><guid isPermaLink="false">abc-123</guid></item>
      <item><link>https://news.example.tm/4</link><description>   </description></item>
      <item><title>   </title><link>https://news.example.tm/5</link></item>
    `);
    const feed = parseFeed(Buffer.from(xml), undefined, BASE);
    expect(feed.items.map((i) => i.url)).toEqual([
      "https://news.example.tm/1",
      "https://news.example.tm/2",
      "https://news.example.tm/3",
    ]);
    expect(feed.items[1]?.title).toBe("Туркменистан и Азербайджан подписали меморандум о сотрудничестве в энергетике…");
    expect(feed.items[1]?.title.length).toBeLessThanOrEqual(80);
    expect(feed.items[1]).not.toHaveProperty("guid");
    expect(feed.skipped).toEqual([
      { index: 1, reason: "duplicate guid" },
      { index: 3, reason: "no usable http(s) url" },
      { index: 4, reason: "no usable http(s) url" },
      { index: 6, reason: "no usable http(s) url" },
      { index: 7, reason: "no title and no summary" },
      { index: 8, reason: "no title and no summary" },
    ]);
  });

  it("keeps only valid dates", () => {
    const item = (date: string) =>
      `<item><title>t</title><link>https://news.example.tm/${encodeURIComponent(date)}</link><pubDate>${date}</pubDate></item>`;
    const dates = [
      "Tue, 16 Jan 2024 09:00:00 GMT",
      "16 Jan 2024 09:00 +0500",
      "Article 12",
      "вчера",
      "32 Jan 2024 09:00:00 GMT",
      "2024-13-45T00:00:00Z",
      "Mon, 15 Jan 2024 10:30:00 MSK",
      "2024-01-16T09:00:00.123+0500",
    ];
    const feed = parseFeed(Buffer.from(rss(dates.map(item).join(""))), undefined, BASE);
    expect(feed.items.map((i) => i.publishedAt ?? null)).toEqual([
      "2024-01-16T09:00:00.000Z",
      "2024-01-16T04:00:00.000Z",
      null,
      null,
      null,
      null,
      null,
      "2024-01-16T04:00:00.123Z",
    ]);
  });

  it("turns HTML in titles and summaries into plain text", () => {
    const xml = rss(`<item>
      <title><![CDATA[<h1 class="x" data-x="a>b">Breaking:</h1><script type="text/javascript">document.write("<b>hi</b>")</script> <b>Caspian</b>&nbsp;summit &amp; <img src=x onerror=alert(1)>talks<!-- comment -->]]></title>
      <link>https://news.example.tm/s</link>
      <description>&lt;p&gt;Line one&lt;br/&gt;line two&lt;/p&gt;&lt;script&gt;evil()&lt;/script&gt;&lt;p&gt;&amp;#8470;&amp;nbsp;5&lt;/p&gt;</description>
    </item>`);
    const [item] = parseFeed(Buffer.from(xml), undefined, BASE).items;
    expect(item?.title).toBe("Breaking: Caspian summit & talks");
    expect(item?.summary).toBe("Line one line two № 5");
    expect(item).not.toHaveProperty("imageUrl"); // "x" resolves to http but the <img> is in the title, not content
  });

  it("caps long summaries and prefers the short description over full content", () => {
    const long = "Ашхабад ".repeat(600);
    const xml = rss(`<item xmlns:content="http://purl.org/rss/1.0/modules/content/"><title>Long</title><link>https://news.example.tm/l</link>
      <content:encoded><![CDATA[<p>${long}</p>]]></content:encoded></item>`);
    const summary = parseFeed(Buffer.from(xml), undefined, BASE).items[0]?.summary ?? "";
    expect(summary.length).toBeLessThanOrEqual(MAX_SUMMARY_CHARS);
    expect(summary.length).toBeGreaterThan(MAX_SUMMARY_CHARS - 20);
    expect(summary.endsWith("Ашхабад…")).toBe(true);
  });

  it("only accepts absolute http(s) image URLs", () => {
    const xml = rss(`<item><title>img</title><link>https://news.example.tm/i</link>
      <enclosure url="data:image/png;base64,AAAA" type="image/png" length="4"/>
      <enclosure url="https://cdn.example.tm/audio.mp3" type="audio/mpeg" length="4"/>
      <description>&lt;img src="javascript:x"&gt;&lt;img src='/pics/1.jpg'&gt;</description></item>`);
    const [item] = parseFeed(Buffer.from(xml), undefined, BASE).items;
    // the data: enclosure and the javascript: <img> are ignored; the first usable <img> is resolved
    expect(item?.imageUrl).toBe("https://news.example.tm/pics/1.jpg");
  });
});

describe("parseDate", () => {
  it("assumes UTC for zone-less ISO timestamps", () => {
    expect(parseDate("2024-05-01 12:00:00")).toBe("2024-05-01T12:00:00.000Z");
    expect(parseDate("2024-05-01")).toBe("2024-05-01T00:00:00.000Z");
    expect(parseDate("0000-01-01")).toBeUndefined();
    expect(parseDate(undefined)).toBeUndefined();
  });
});
