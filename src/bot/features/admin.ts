import { Composer, InlineKeyboard } from "grammy";
import { createConversation } from "@grammyjs/conversations";
import type { Context } from "../context.ts";
import { BROADCAST_CONVERSATION, createBroadcastConversation, type BroadcastConversationDeps } from "../conversations/broadcast.ts";
import { STOP_DATA, isFinished, stateLabel, stopData } from "../../news/broadcast-status.ts";

const isAdmin = (ctx: Context) => ctx.from !== undefined && ctx.services.adminIds.has(ctx.from.id);

/**
 * Editors' commands. Everything here is behind the admin filter: for anybody else these updates
 * fall through to the "unknown command" reply, so nothing reveals that they exist.
 */
export function createAdminFeature(deps: BroadcastConversationDeps): Composer<Context> {
  const composer = new Composer<Context>();
  const admin = composer.chatType("private").filter(isAdmin);

  // Before the conversation itself, so /cancel works at any step of it.
  admin.command("cancel", async (ctx) => {
    const active = Object.keys(await ctx.conversation.active());
    if (active.length === 0) {
      await ctx.reply(ctx.t("bc-nothing-to-cancel"));
      return;
    }
    await ctx.conversation.exitAll();
    await ctx.reply(ctx.t("bc-cancelled"));
  });

  admin.use(createConversation(createBroadcastConversation(deps), BROADCAST_CONVERSATION));

  admin.command("broadcast", async (ctx) => {
    await ctx.conversation.exitAll();
    await ctx.conversation.enter(BROADCAST_CONVERSATION);
  });

  admin.callbackQuery(STOP_DATA, async (ctx) => {
    const id = STOP_DATA.exec(ctx.callbackQuery.data)?.[1];
    if (!id) return;
    const { deliveries } = ctx.services.admin;
    const stopped = await deliveries.cancel(id);
    ctx.services.logger.info({ articleId: id, adminId: ctx.from.id, stopped }, "broadcast cancel requested");
    await ctx.answerCallbackQuery({ text: ctx.t(stopped ? "bc-stop-ok" : "bc-stop-late") });
  });

  admin.command("broadcasts", async (ctx) => {
    const { broadcasts, deliveries } = ctx.services.admin;
    const list = await broadcasts.recent(10);
    if (list.length === 0) {
      await ctx.reply(ctx.t("bc-list-empty"));
      return;
    }
    const kb = new InlineKeyboard();
    const lines = [ctx.t("bc-list-title")];
    let n = 0;
    for (const b of list) {
      const rec = await deliveries.record(b.id);
      if (!rec) continue;
      n++;
      lines.push(
        ctx.t("bc-list-item", {
          n,
          state: stateLabel(rec, (key, vars) => ctx.t(key, vars)),
          sent: rec.sent,
          audience: rec.audience,
          when: new Date(b.createdAt).toISOString().slice(0, 16).replace("T", " "),
          preview: b.preview,
        }),
      );
      if (!isFinished(rec) && rec.state !== "cancelling") kb.text(`⏹ ${n}`, stopData(b.id));
    }
    await ctx.reply(lines.join("\n"), { parse_mode: "HTML", ...(kb.inline_keyboard.flat().length ? { reply_markup: kb } : {}) });
  });

  admin.command("stats", async (ctx) => {
    const { subscribers, catalog } = ctx.services;
    const { last24h, queueDepths } = ctx.services.admin;
    const lang = ctx.subscriber?.lang ?? "en";
    const [counts, day, depths] = await Promise.all([subscribers.counts(), last24h(), queueDepths()]);
    const perTopic: string[] = [];
    for (const t of catalog.topics) perTopic.push(`${catalog.topicTitle(t.id, lang)} ${await subscribers.countAudience([t.id])}`);
    const queues = Object.entries(depths)
      .map(([name, c]) => `${name} ${(c.wait ?? 0) + (c.prioritized ?? 0)}/${c.active ?? 0}/${c.delayed ?? 0}/${c.failed ?? 0}`)
      .join(", ");
    const failures = Object.entries(day.failuresByReason)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([reason, n]) => `${reason} ×${n}`)
      .join("; ");
    await ctx.reply(
      ctx.t("stats", {
        total: counts.total,
        active: counts.active,
        blocked: counts.blocked,
        stopped: Math.max(0, counts.total - counts.active - counts.blocked),
        topics: perTopic.join(", "),
        articles: day.articles,
        sent: day.sent,
        failed: day.failed,
        blockedNow: day.blocked,
        queues: `${queues} (waiting/active/delayed/failed)`,
        failures: failures || ctx.t("stats-none"),
      }),
      { parse_mode: "HTML" },
    );
  });

  return composer;
}
