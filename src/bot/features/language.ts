import { Composer, InlineKeyboard } from "grammy";
import { LANGUAGES } from "../../catalog.ts";
import type { Context } from "../context.ts";
import { languageData, parseLanguageData } from "../callback-data/picker.ts";

export function createLanguageFeature(): Composer<Context> {
  const composer = new Composer<Context>();
  const pm = composer.chatType("private");

  pm.command("language", async (ctx) => {
    const kb = new InlineKeyboard();
    for (const lang of LANGUAGES) kb.text(ctx.i18n.fluent.translate(lang, "language-name"), languageData(lang));
    await ctx.reply(ctx.t("language-choose"), { reply_markup: kb });
  });

  pm.callbackQuery(/^lang:/, async (ctx) => {
    const lang = parseLanguageData(ctx.callbackQuery.data, LANGUAGES);
    if (!lang) {
      await ctx.answerCallbackQuery({ text: ctx.t("button-expired"), show_alert: true });
      return;
    }
    if (ctx.subscriber) {
      await ctx.services.subscribers.setLanguage(ctx.chat.id, lang);
      ctx.subscriber.lang = lang;
    }
    // Before /start there is no record to keep it in; the rest of this update still switches.
    ctx.i18n.useLocale(lang);
    await ctx.answerCallbackQuery({ text: ctx.t("language-set") });
    await ctx.editMessageText(ctx.t("language-set"));
  });

  return composer;
}
