import { Bot, GrammyError, HttpError, type Api } from "grammy";
import type { I18n } from "@grammyjs/i18n";
import { autoRetry } from "@grammyjs/auto-retry";
import { sequentialize } from "@grammyjs/runner";
import { conversations, type ConversationData, type VersionedStateStorage } from "@grammyjs/conversations";
import type { UserFromGetMe } from "grammy/types";
import { LANGUAGES } from "../catalog.ts";
import type { BotServices, Context } from "./context.ts";
import { createLanguageFeature } from "./features/language.ts";
import { createSubscriptionFeature } from "./features/subscription.ts";
import { createTopicsFeature } from "./features/topics.ts";
import { createUnhandledFeature } from "./features/unhandled.ts";
import { createAdminFeature } from "./features/admin.ts";
import type { BroadcastConversationDeps } from "./conversations/broadcast.ts";

export interface BotDeps {
  token: string;
  apiRoot: string;
  services: BotServices;
  i18n: I18n<Context>;
  /** Known bot identity (tests, or a cached getMe) so start-up needs no round trip. */
  botInfo?: UserFromGetMe;
  broadcast: BroadcastConversationDeps;
  /** Where conversation state lives (Redis), so a restart resumes an editor's flow. */
  conversationStorage: { prefix: string; adapter: VersionedStateStorage<string, ConversationData> };
}

/** Builds the bot: plugins, services, error boundary, then one Composer per feature, unhandled last. */
export function createBot(deps: BotDeps): Bot<Context> {
  const bot = new Bot<Context>(deps.token, {
    client: { apiRoot: deps.apiRoot },
    ...(deps.botInfo ? { botInfo: deps.botInfo } : {}),
  });
  const { services } = deps;
  // Replies to a reader's own taps may hit the per-chat limit (a fast double tap): wait and retry.
  // Bulk delivery does not go through this client; it paces itself and hands 429s to the queue.
  bot.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 10, rethrowHttpErrors: true }));

  // The runner processes updates concurrently; one chat's updates still run in order, so two quick
  // taps on the picker can't interleave their read-modify-edit of the same keyboard.
  bot.use(sequentialize((ctx) => ctx.chat?.id.toString() ?? ctx.from?.id.toString()));
  bot.use(async (ctx, next) => {
    ctx.services = services;
    ctx.subscriber = ctx.chat?.type === "private" ? await services.subscribers.get(ctx.chat.id) : undefined;
    await next();
  });
  bot.use(deps.i18n);
  bot.use(
    conversations({
      storage: { type: "key", version: 1, prefix: deps.conversationStorage.prefix, adapter: deps.conversationStorage.adapter },
      // Conversations build their own Api object per replay, without the bot's transformers.
      plugins: [
        async (ctx, next) => {
          ctx.api.config.use(autoRetry({ maxRetryAttempts: 3, maxDelaySeconds: 10, rethrowHttpErrors: true }));
          await next();
        },
      ],
    }),
  );

  bot.use(createAdminFeature(deps.broadcast));
  bot.use(createSubscriptionFeature());
  bot.use(createTopicsFeature());
  bot.use(createLanguageFeature());
  bot.use(createUnhandledFeature());

  bot.catch(async (err) => {
    const ctx = err.ctx;
    const e = err.error;
    const reason = e instanceof GrammyError ? e.description : e instanceof HttpError ? "network" : (e as Error)?.message;
    services.logger.error({ updateId: ctx.update.update_id, reason, err: e }, "update handling failed");
    try {
      if (ctx.callbackQuery) await ctx.answerCallbackQuery({ text: ctx.t("error-generic") });
      else if (ctx.chat?.type === "private") await ctx.reply(ctx.t("error-generic"));
    } catch {
      // Telegram itself is failing; the log line above is all we can do.
    }
  });
  return bot;
}

/**
 * Registers the command menu in every interface language (English is the default scope); editors
 * get the admin commands in their own chat's menu only.
 */
export async function registerCommands(api: Api, i18n: I18n<Context>, adminIds: readonly number[], warn: (msg: string, extra: object) => void): Promise<void> {
  const names = ["start", "topics", "language", "help", "stop"];
  const adminNames = [...names, "broadcast", "broadcasts", "stats", "cancel"];
  const list = (lang: string, which: string[]) => which.map((c) => ({ command: c, description: i18n.t(lang, `cmd-${c}`) }));
  for (const lang of LANGUAGES) {
    await api.setMyCommands(list(lang, names), lang === "en" ? {} : { language_code: lang });
  }
  for (const id of adminIds) {
    for (const lang of LANGUAGES) {
      try {
        await api.setMyCommands(list(lang, adminNames), { scope: { type: "chat", chat_id: id }, ...(lang === "en" ? {} : { language_code: lang }) });
      } catch (err) {
        // An editor who never opened the bot has no chat yet; the commands still work once they do.
        warn("could not set the admin command menu", { adminId: id, reason: (err as Error).message });
        break;
      }
    }
  }
}
