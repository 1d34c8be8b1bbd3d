import { InlineKeyboard, type Context as BaseContext } from "grammy";
import type { Conversation } from "@grammyjs/conversations";
import type { Catalog } from "../../catalog.ts";
import type { BroadcastBody } from "../../news/article.ts";
import { entitiesToHtml } from "../../news/entities-to-html.ts";
import { TELEGRAM_CAPTION_LIMIT, TELEGRAM_TEXT_LIMIT } from "../../news/format.ts";
import { previewOf, stopData, type Translate } from "../../news/broadcast-status.ts";
import type { IngestService } from "../../news/ingest.ts";
import type { BroadcastStore } from "../../store/broadcasts.ts";
import type { SubscriberStore } from "../../store/subscribers.ts";
import type { Context } from "../context.ts";

export const BROADCAST_CONVERSATION = "broadcast";

export interface BroadcastConversationDeps {
  catalog: Catalog;
  subscribers: SubscriberStore;
  ingest: IngestService;
  broadcasts: BroadcastStore;
  /** Starts the live status message updates (a job in Redis). */
  startProgress(articleId: string): Promise<void>;
  /** The editor's interface language (reads Redis: call it inside external()). */
  languageOf(userId: number, telegramLang: string | undefined): Promise<string>;
  /** Pure: translations for a language. */
  translator(lang: string): Translate;
  paidAvailable: boolean;
}

interface Selection {
  all: boolean;
  topics: string[];
  paid: boolean;
}

const AUDIENCE_DATA = /^bc:(all|next|cancel|paid|t:[a-z0-9_]{1,24})$/;
const CONFIRM_DATA = /^bc:(send|cancel)$/;

/**
 * The editor's broadcast flow: message → audience → preview → confirm. Conversations v2 replays
 * this function on every update, so every side effect that isn't a Bot API call on ctx sits in
 * conversation.external(); its state lives in Redis, so a restart resumes mid-flow.
 */
export function createBroadcastConversation(deps: BroadcastConversationDeps) {
  return async function broadcast(conversation: Conversation<Context, BaseContext>, ctx: BaseContext): Promise<void> {
    const user = ctx.from;
    const chatId = ctx.chat?.id;
    if (!user || chatId === undefined) return;
    const lang = await conversation.external(() => deps.languageOf(user.id, user.language_code));
    const t = deps.translator(lang);

    // 1. The message, exactly as readers will get it.
    await ctx.reply(t("bc-ask"), { parse_mode: "HTML" });
    let body: BroadcastBody | undefined;
    while (!body) {
      const m = await conversation.waitFor(["message:text", "message:photo"], {
        otherwise: (o) => o.reply(t("bc-ask-again")),
      });
      const msg = m.message;
      if (msg.photo) {
        const caption = msg.caption ?? "";
        if (caption.length > TELEGRAM_CAPTION_LIMIT) {
          await m.reply(t("bc-caption-too-long", { length: caption.length, limit: TELEGRAM_CAPTION_LIMIT }));
          continue;
        }
        const largest = msg.photo[msg.photo.length - 1];
        if (!largest) continue;
        body = { html: entitiesToHtml(caption, msg.caption_entities), photo: largest.file_id };
      } else {
        const text = msg.text ?? "";
        if (text.startsWith("/")) {
          await m.reply(t("bc-ask-again"));
          continue;
        }
        if (text.trim().length === 0) {
          await m.reply(t("bc-empty"));
          continue;
        }
        if (text.length > TELEGRAM_TEXT_LIMIT) {
          await m.reply(t("bc-text-too-long", { length: text.length, limit: TELEGRAM_TEXT_LIMIT }));
          continue;
        }
        body = { html: entitiesToHtml(text, msg.entities) };
      }
    }

    // 2. The audience, with live recipient counts.
    const sel: Selection = { all: true, topics: [], paid: false };
    const counts = await conversation.external(async () => {
      const perTopic: Record<string, number> = {};
      for (const topic of deps.catalog.topics) perTopic[topic.id] = await deps.subscribers.countAudience([topic.id]);
      return { all: await deps.subscribers.countAudience([]), perTopic };
    });
    const keyboard = () => {
      const kb = new InlineKeyboard().text(`${sel.all ? "✅ " : ""}${t("bc-all", { count: counts.all })}`, "bc:all").row();
      deps.catalog.topics.forEach((topic, i) => {
        const on = !sel.all && sel.topics.includes(topic.id);
        kb.text(`${on ? "✅ " : ""}${deps.catalog.topicTitle(topic.id, lang)} (${counts.perTopic[topic.id] ?? 0})`, `bc:t:${topic.id}`);
        if (i % 2 === 1) kb.row();
      });
      kb.row();
      if (deps.paidAvailable) kb.text(t(sel.paid ? "bc-paid-on" : "bc-paid-off"), "bc:paid").row();
      return kb.text(t("bc-next"), "bc:next").text(t("bc-cancel-button"), "bc:cancel");
    };
    let recipients = counts.all;
    await ctx.reply(t("bc-audience", { count: recipients }), { parse_mode: "HTML", reply_markup: keyboard() });
    for (;;) {
      const c = await conversation.waitForCallbackQuery(AUDIENCE_DATA, { otherwise: (o) => o.reply(t("bc-use-buttons")) });
      const data = c.callbackQuery.data;
      if (data === "bc:cancel") {
        await c.answerCallbackQuery();
        await c.editMessageText(t("bc-cancelled"));
        return;
      }
      if (data === "bc:next") {
        if (!sel.all && sel.topics.length === 0) {
          await c.answerCallbackQuery({ text: t("bc-pick-audience"), show_alert: true });
          continue;
        }
        await c.answerCallbackQuery();
        await c.editMessageReplyMarkup({ reply_markup: undefined });
        break;
      }
      if (data === "bc:all") {
        sel.all = true;
        sel.topics = [];
      } else if (data === "bc:paid") {
        sel.paid = !sel.paid;
      } else {
        const id = data.slice(5);
        if (!deps.catalog.topicById.has(id)) {
          await c.answerCallbackQuery({ text: t("bc-use-buttons"), show_alert: true });
          continue;
        }
        sel.all = false;
        sel.topics = sel.topics.includes(id) ? sel.topics.filter((x) => x !== id) : [...sel.topics, id];
      }
      const chosen = sel.all ? [] : sel.topics;
      recipients = !sel.all && chosen.length === 0 ? 0 : await conversation.external(() => deps.subscribers.countAudience(chosen));
      await c.answerCallbackQuery();
      await c.editMessageText(t("bc-audience", { count: recipients }), { parse_mode: "HTML", reply_markup: keyboard() });
    }

    // 3. Preview, exactly as subscribers will see it, then confirm.
    if (body.photo) await ctx.api.sendPhoto(chatId, body.photo, { caption: body.html, parse_mode: "HTML" });
    else await ctx.api.sendMessage(chatId, body.html, { parse_mode: "HTML" });
    await ctx.reply(t("bc-preview", { count: recipients }), {
      reply_markup: new InlineKeyboard().text(t("bc-send", { count: recipients }), "bc:send").text(t("bc-cancel-button"), "bc:cancel"),
    });
    const confirm = await conversation.waitForCallbackQuery(CONFIRM_DATA, { otherwise: (o) => o.reply(t("bc-use-buttons")) });
    await confirm.answerCallbackQuery();
    if (confirm.callbackQuery.data === "bc:cancel") {
      await confirm.editMessageText(t("bc-cancelled"));
      return;
    }
    await confirm.editMessageReplyMarkup({ reply_markup: undefined });

    // 4. Queue it as breaking news and show its live status.
    const topics = sel.all ? [] : sel.topics;
    const { id } = await conversation.external(() => deps.ingest.broadcast({ adminId: user.id, body: body, topics, paid: sel.paid }));
    const status = await ctx.reply(t("bc-queued", { count: recipients }), {
      reply_markup: new InlineKeyboard().text(t("bc-stop-button"), stopData(id)),
    });
    await conversation.external(async () => {
      await deps.broadcasts.save(
        { id, adminId: user.id, chatId, statusMessageId: status.message_id, audience: topics.length ? topics.join(",") : "all", preview: previewOf(body.html), createdAt: Date.now() },
        30 * 86_400,
      );
      await deps.startProgress(id);
    });
  };
}
