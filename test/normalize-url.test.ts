import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { articleIdFor, normalizeGuid, normalizeUrl } from "../src/news/normalize-url.ts";

describe("normalizeUrl", () => {
  it.each([
    ["HTTPS://WWW.Example.COM/News/1", "https://example.com/News/1"],
    ["http://example.com/a", "https://example.com/a"],
    ["https://example.com:443/a", "https://example.com/a"],
    ["http://example.com:80/a", "https://example.com/a"],
    ["http://example.com:443/a", "https://example.com/a"],
    ["https://example.com:8443/a", "https://example.com:8443/a"],
    ["https://example.com/a/", "https://example.com/a"],
    ["https://example.com/a//", "https://example.com/a"],
    ["https://example.com/", "https://example.com/"],
    ["https://example.com", "https://example.com/"],
    ["https://example.com/?", "https://example.com/"],
    ["https://example.com/a#section", "https://example.com/a"],
    ["https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"],
    ["https://example.com/a?id=2&id=1&a=x", "https://example.com/a?a=x&id=2&id=1"],
    [
      "https://example.com/a?utm_source=tg&UTM_Medium=x&fbclid=1&gclid=2&yclid=3&mc_cid=4&mc_eid=5&id=7",
      "https://example.com/a?id=7",
    ],
    ["https://example.com/a?utm_source=tg", "https://example.com/a"],
    ["https://example.com/a?utmost=1", "https://example.com/a?utmost=1"],
    ["https://user:pw@example.com/a", "https://example.com/a"],
    ["https://example.com./a", "https://example.com/a"],
    ["https://www.www.example.com/a", "https://example.com/a"],
    ["https://www.com/a", "https://www.com/a"],
    ["https://wwwexample.com/a", "https://wwwexample.com/a"],
    ["https://example.com/a/../b/./c", "https://example.com/b/c"],
    ["https://example.com/%c3%a4", "https://example.com/%C3%A4"],
    ["https://example.com/ä", "https://example.com/%C3%A4"],
    ["https://Ашхабад.тм/новости", "https://xn--80aaadq2hua.xn--l1al/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"],
    ["https://[::1]:8080/a", "https://[::1]:8080/a"],
    ["  https://example.com/a  ", "https://example.com/a"],
    ["https://example.com/a?q=a b", "https://example.com/a?q=a+b"],
  ])("%s -> %s", (input, expected) => {
    expect(normalizeUrl(input)).toBe(expected);
  });

  it.each([
    "javascript:alert(1)",
    "ftp://example.com/",
    "mailto:news@example.com",
    "data:text/html,x",
    "//example.com/a",
    "/relative/path",
    "example.com",
    "https://",
    "",
    "not a url",
  ])("throws on %j", (input) => {
    expect(() => normalizeUrl(input)).toThrow();
  });

  it("is idempotent", () => {
    fc.assert(
      fc.property(
        fc.webUrl({ validSchemes: ["http", "https"], withQueryParameters: true, withFragments: true }),
        (url) => {
          const once = normalizeUrl(url);
          expect(normalizeUrl(once)).toBe(once);
          expect(once.startsWith("https://")).toBe(true);
          expect(once).not.toContain("#");
        },
      ),
      { numRuns: 500 },
    );
  });

  it("ignores scheme, www, tracking params, parameter order and fragment", () => {
    fc.assert(
      fc.property(
        fc.domain(),
        fc.webPath(),
        fc.uniqueArray(fc.tuple(fc.stringMatching(/^[a-z]{1,6}$/), fc.stringMatching(/^[a-z0-9]{0,6}$/)), {
          selector: ([k]) => k,
          maxLength: 5,
        }),
        fc.webFragments(),
        (domain, path, params, fragment) => {
          const real = params.filter(([k]) => !k.startsWith("utm"));
          const q = (ps: Array<[string, string]>) => ps.map(([k, v]) => `${k}=${v}`).join("&");
          const a = `https://${domain}${path}?${q(real)}`;
          const b = `http://www.${domain}${path}/?${q([["utm_source", "x"], ...[...real].reverse(), ["fbclid", "y"]])}#${fragment}`;
          expect(normalizeUrl(b)).toBe(normalizeUrl(a));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("normalizeGuid", () => {
  it.each([
    ["  tag:example.com,2024:1  ", "tag:example.com,2024:1"],
    ["12345", "12345"],
    ["HTTP://WWW.Example.com/a/?utm_source=x", "https://example.com/a"],
    ["https://exa mple.com/a", "https://exa mple.com/a"], // looks like a URL but is not one: kept as text
    ["urn:uuid:ABC", "urn:uuid:ABC"], // opaque ids stay case-sensitive
    ["   ", ""],
  ])("%j -> %j", (input, expected) => {
    expect(normalizeGuid(input)).toBe(expected);
  });
});

describe("articleIdFor", () => {
  it("is the first 16 hex characters of the SHA-256 of the normalised key", () => {
    const expected = createHash("sha256").update("https://example.com/a").digest("hex").slice(0, 16);
    expect(articleIdFor("https://example.com/a")).toBe(expected);
    expect(articleIdFor("http://www.example.com/a/?utm_source=tg#top")).toBe(expected);
    expect(articleIdFor(normalizeUrl("http://www.example.com/a/"))).toBe(expected);
    expect(articleIdFor("tag:x,2024:1")).toBe(
      createHash("sha256").update("tag:x,2024:1").digest("hex").slice(0, 16),
    );
    expect(articleIdFor("Ашхабад")).toBe(createHash("sha256").update("Ашхабад", "utf8").digest("hex").slice(0, 16));
  });

  it("returns 16 lowercase hex characters and differs for different keys", () => {
    expect(articleIdFor("a")).toMatch(/^[0-9a-f]{16}$/);
    expect(articleIdFor("a")).not.toBe(articleIdFor("b"));
    expect(articleIdFor("https://example.com/a")).not.toBe(articleIdFor("https://example.com/b"));
  });

  it("refuses an empty key", () => {
    expect(() => articleIdFor("  ")).toThrow();
  });
});
