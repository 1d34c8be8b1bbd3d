import { InlineKeyboard } from "grammy";
import type { Catalog } from "../../catalog.ts";
import { pickerData } from "../callback-data/picker.ts";

type Translate = (key: string) => string;

/** One button per topic (✅ when chosen), two per row, then "All topics" and "Done". */
export function topicsKeyboard(catalog: Catalog, chosen: readonly string[], lang: string, t: Translate): InlineKeyboard {
  const selected = new Set(chosen);
  const kb = new InlineKeyboard();
  catalog.topics.forEach((topic, i) => {
    const title = catalog.topicTitle(topic.id, lang);
    kb.text(`${selected.has(topic.id) ? "✅ " : ""}${title}`, pickerData({ kind: "toggle", topic: topic.id }));
    if (i % 2 === 1) kb.row();
  });
  if (catalog.topics.length % 2 === 1) kb.row();
  const all = catalog.topics.every((t) => selected.has(t.id));
  kb.text(t(all ? "picker-all-on" : "picker-all"), pickerData({ kind: "all" }));
  kb.text(t("picker-done"), pickerData({ kind: "done" }));
  return kb;
}
