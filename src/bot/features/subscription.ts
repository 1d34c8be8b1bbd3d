import { Composer } from "grammy";
import type { Context } from "../context.ts";
import { languageFromTelegram } from "../i18n.ts";
import { topicsKeyboard } from "../keyboards/topics.ts";

/** /start, /stop, /help, and the my_chat_member updates that say the user blocked or unblocked us. */
export function createSubscriptionFeature(): Composer<Context> {
  const composer = new Composer<Context>();
  const pm = composer.chatType("private");

  pm.command("start", async (ctx) => {
    const { subscribers, catalog, agencyName, logger } = ctx.services;
    const lang = ctx.subscriber?.lang ?? languageFromTelegram(ctx.from.language_code);
    const { subscriber, created } = await subscribers.subscribe(ctx.chat.id, lang);
    ctx.subscriber = subscriber;
    await ctx.i18n.renegotiateLocale();
    logger.info({ chatId: ctx.chat.id, created }, created ? "new subscriber" : "subscriber resumed");
    await ctx.reply(ctx.t(created ? "welcome" : "welcome-back", { agency: agencyName }), { parse_mode: "HTML" });
    await ctx.reply(ctx.t("picker-title"), {
      reply_markup: topicsKeyboard(catalog, subscriber.topics, subscriber.lang, (k) => ctx.t(k)),
    });
  });

  pm.command("stop", async (ctx) => {
    if (!ctx.subscriber || ctx.subscriber.status !== "active") {
      await ctx.reply(ctx.t("stop-not-subscribed"));
      return;
    }
    await ctx.services.subscribers.setStatus(ctx.chat.id, "stopped");
    ctx.services.logger.info({ chatId: ctx.chat.id }, "subscriber stopped");
    await ctx.reply(ctx.t("stopped"));
  });

  pm.command("help", async (ctx) => {
    await ctx.reply(ctx.t("help", { agency: ctx.services.agencyName }), { parse_mode: "HTML" });
  });

  composer.on("my_chat_member", async (ctx) => {
    if (ctx.chat.type !== "private") return;
    const status = ctx.myChatMember.new_chat_member.status;
    if (status === "kicked" && ctx.subscriber) {
      // The user blocked the bot: stop sending at once; /start after unblocking reactivates.
      await ctx.services.subscribers.setStatus(ctx.chat.id, "blocked");
      ctx.services.logger.info({ chatId: ctx.chat.id }, "subscriber blocked the bot");
    }
  });

  return composer;
}
