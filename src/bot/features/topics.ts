import { Composer, GrammyError } from "grammy";
import type { Context } from "../context.ts";
import { PICKER_DATA, parsePickerData } from "../callback-data/picker.ts";
import { topicsKeyboard } from "../keyboards/topics.ts";

/** /topics and the picker's buttons: toggles edit the keyboard in place. */
export function createTopicsFeature(): Composer<Context> {
  const composer = new Composer<Context>();
  const pm = composer.chatType("private");

  pm.command("topics", async (ctx) => {
    const sub = ctx.subscriber;
    if (!sub) {
      await ctx.reply(ctx.t("picker-not-subscribed"));
      return;
    }
    await ctx.reply(ctx.t("picker-title"), {
      reply_markup: topicsKeyboard(ctx.services.catalog, sub.topics, sub.lang, (k) => ctx.t(k)),
    });
  });

  pm.callbackQuery(PICKER_DATA, async (ctx) => {
    const { catalog, subscribers } = ctx.services;
    const action = parsePickerData(ctx.callbackQuery.data, (id) => catalog.topicById.has(id));
    if (!action) {
      // Tampered or stale data: say so politely and change nothing.
      ctx.services.logger.info({ chatId: ctx.chat.id, data: ctx.callbackQuery.data.slice(0, 80) }, "invalid picker data");
      await ctx.answerCallbackQuery({ text: ctx.t("button-expired"), show_alert: true });
      return;
    }
    const sub = ctx.subscriber;
    if (!sub) {
      await ctx.answerCallbackQuery({ text: ctx.t("picker-not-subscribed"), show_alert: true });
      return;
    }
    const lang = sub.lang;

    if (action.kind === "done") {
      if (sub.topics.length === 0) {
        await ctx.answerCallbackQuery({ text: ctx.t("picker-empty"), show_alert: true });
        return;
      }
      const titles = sub.topics.map((id) => catalog.topicTitle(id, lang)).join(", ");
      await ctx.answerCallbackQuery();
      await ctx.editMessageText(ctx.t("picker-saved", { topics: titles }));
      return;
    }

    const topics =
      action.kind === "all" ? await subscribers.toggleAllTopics(ctx.chat.id) : await subscribers.toggleTopic(ctx.chat.id, action.topic);
    if (!topics) {
      await ctx.answerCallbackQuery({ text: ctx.t("picker-not-subscribed"), show_alert: true });
      return;
    }
    const note =
      action.kind === "all"
        ? ctx.t(topics.length ? "picker-all-added" : "picker-all-removed")
        : ctx.t(topics.includes(action.topic) ? "picker-added" : "picker-removed", {
            topic: catalog.topicTitle(action.topic, lang),
          });
    await ctx.answerCallbackQuery({ text: note });
    try {
      await ctx.editMessageReplyMarkup({ reply_markup: topicsKeyboard(catalog, topics, lang, (k) => ctx.t(k)) });
    } catch (err) {
      // A double tap can race to the same keyboard; Telegram then says "not modified", which is fine.
      if (!(err instanceof GrammyError && /message is not modified/.test(err.description))) throw err;
    }
  });

  return composer;
}
