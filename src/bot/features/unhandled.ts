import { Composer } from "grammy";
import type { Context } from "../context.ts";

/** Last in the chain: anything nobody handled gets a polite pointer to /help. */
export function createUnhandledFeature(): Composer<Context> {
  const composer = new Composer<Context>();
  const pm = composer.chatType("private");

  pm.on("message:text", async (ctx) => {
    await ctx.reply(ctx.t(ctx.message.text.startsWith("/") ? "unknown-command" : "unknown-message"));
  });
  pm.on("message", async (ctx) => {
    await ctx.reply(ctx.t("unknown-message"));
  });
  composer.on("callback_query", async (ctx) => {
    await ctx.answerCallbackQuery({ text: ctx.t("button-expired"), show_alert: true });
  });
  return composer;
}
