import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createClassifier } from "../src/news/classify.ts";

const catalog = [
  { id: "turkmenistan", keywords: ["Turkmen", "Türkmenistan", "Ашхабад", "Aşgabat"] },
  { id: "central-asia", keywords: ["Central Asia", "Центральная Азия", "Uzbekistan"] },
  { id: "digital-economy", keywords: ["digital economy", "цифровая экономика", "sanly ykdysadyýet"] },
  { id: "e-government", keywords: ["e-government", "электронное правительство"] },
  { id: "cybersecurity", keywords: ["cybersecurity", "кибербезопасность", "C++", "(ISC)²"] },
  { id: "energy", keywords: ["gas", "газ", "TAPI", "energy"] },
];

const classify = createClassifier(catalog);

describe("createClassifier", () => {
  it.each([
    ["Turkmen delegation arrives", ["turkmenistan"]],
    ["TURKMEN and turkmen", ["turkmenistan"]],
    ["Turkmenistan signs deal", []], // "Turkmen" is a keyword, "Turkmenistan" is not
    ["TÜRKMENISTAN we ýurt", ["turkmenistan"]],
    ["В АШХАБАДЕ прошёл форум", []], // inflected forms are different words: no stemming
    ["Форум в городе Ашхабад.", ["turkmenistan"]],
    ["форум: ашхабад", ["turkmenistan"]],
    ["AŞGABAT, 12 May", ["turkmenistan"]],
    ["the Digital  Economy\nforum", ["digital-economy"]],
    ["digital economics", []],
    ["Sanly YKDYSADYÝET ösýär", ["digital-economy"]],
    ["ЭЛЕКТРОННОЕ ПРАВИТЕЛЬСТВО и кибербезопасность", ["e-government", "cybersecurity"]],
    ["new E-Government portal", ["e-government"]],
    ["egovernment", []],
    ["gas and energy in Central Asia", ["central-asia", "energy"]],
    ["gasoline prices", []],
    ["газовые месторождения", []],
    ["природный газ", ["energy"]],
    ["TAPI pipeline; tapioca", ["energy"]],
    ["written in C++ today", ["cybersecurity"]],
    ["C+++", ["cybersecurity"]], // "+" is not a word character, so the keyword is still whole
    ["C", []],
    ["(ISC)² certified", ["cybersecurity"]],
    ["gas2", []],
    ["2gas", []],
    ["gas_pipeline", ["energy"]], // "_" is not a letter or digit
    ["", []],
  ])("%j -> %j", (text, ids) => {
    expect(classify(text)).toEqual(ids);
  });

  it("returns ids in catalog order, not in order of appearance, without duplicates", () => {
    expect(classify("energy gas Uzbekistan Turkmen Turkmen cybersecurity")).toEqual([
      "turkmenistan",
      "central-asia",
      "cybersecurity",
      "energy",
    ]);
  });

  it("merges repeated topic ids", () => {
    const c = createClassifier([
      { id: "a", keywords: ["x"] },
      { id: "b", keywords: ["y"] },
      { id: "a", keywords: ["z"] },
    ]);
    expect(c("z y")).toEqual(["a", "b"]);
    expect(c("z x")).toEqual(["a"]);
  });

  it("treats composed and decomposed Turkmen letters alike", () => {
    const c = createClassifier([{ id: "t", keywords: ["Türkmen ýurdy"] }]);
    expect(c("Tu\u0308rkmen y\u0301urdy")).toEqual(["t"]);
    const d = createClassifier([{ id: "t", keywords: ["Tu\u0308rkmen"] }]);
    expect(d("türkmen")).toEqual(["t"]);
  });

  it("does not match inside words that continue with a combining mark", () => {
    const c = createClassifier([{ id: "t", keywords: ["turkmen"] }]);
    // U+0308 has no precomposed form with "n" but still belongs to the word: this is not "turkmen".
    expect(c("turkmen\u0308")).toEqual([]);
  });

  it("treats keywords as literal text, never as patterns", () => {
    const c = createClassifier([
      { id: "dot", keywords: ["a.b"] },
      { id: "star", keywords: [".*"] },
      { id: "group", keywords: ["(x|y)"] },
      { id: "slash", keywords: ["a/b", "a\\b", "[c]", "{d}", "$e^", "f-g"] },
    ]);
    expect(c("aXb")).toEqual([]);
    expect(c("anything at all")).toEqual([]);
    expect(c("x y")).toEqual([]);
    expect(c("a.b and .* and (x|y)")).toEqual(["dot", "star", "group"]);
    for (const k of ["a/b", "a\\b", "[c]", "{d}", "$e^", "f-g"]) expect(c(`see ${k} here`)).toEqual(["slash"]);
  });

  it("ignores empty and blank keywords", () => {
    const c = createClassifier([
      { id: "empty", keywords: ["", "   "] },
      { id: "none", keywords: [] },
      { id: "x", keywords: ["", "x"] },
    ]);
    expect(c("some text x")).toEqual(["x"]);
    expect(c("")).toEqual([]);
  });

  it("is stateless between calls", () => {
    for (let i = 0; i < 3; i++) expect(classify("gas gas gas")).toEqual(["energy"]);
  });
});

describe("createClassifier properties", () => {
  const letters = [..."abcdefghijklmnopqrstuvwxyzçäňöşüýžабвгдежзийклмнопрстуфхцчшщъыьэюяё"];
  const word = fc.string({ unit: fc.constantFrom(...letters), minLength: 1, maxLength: 12 });
  const phrase = fc.array(word, { minLength: 1, maxLength: 3 }).map((ws) => ws.join(" "));
  const before = fc.constantFrom("", " ", "x, ", "(", "1 ", "«", "\n", "— ", "#");
  const after = fc.constantFrom("", " ", ".", ", y", ")", " 2", "»", "\n", "!");

  it("finds a keyword in any case between non-letters", () => {
    fc.assert(
      fc.property(phrase, before, after, fc.boolean(), (kw, pre, post, upper) => {
        const c = createClassifier([{ id: "t", keywords: [kw] }]);
        expect(c(`${pre}${upper ? kw.toUpperCase() : kw}${post}`)).toEqual(["t"]);
      }),
    );
  });

  it("never matches a keyword glued to another letter or digit", () => {
    fc.assert(
      fc.property(phrase, fc.constantFrom(...letters, "7"), fc.boolean(), (kw, glue, atEnd) => {
        const c = createClassifier([{ id: "t", keywords: [kw] }]);
        const text = atEnd ? `${kw}${glue}` : `${glue}${kw}`;
        // The only occurrence of the keyword is the glued one, so nothing may match.
        expect(c(text)).toEqual([]);
      }),
    );
  });
});
