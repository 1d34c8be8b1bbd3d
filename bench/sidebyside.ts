/**
 * Scenario "sidebyside": the same article to the same subscribers through the same emulator at
 * Telegram's 30 msg/s, sent
 *  (a) the way grammY's docs recommend for broadcasts (advanced/flood.md, "How to Broadcast
 *      Messages"): a sequential loop, @grammyjs/auto-retry installed on the Api;
 *  (b) through @grammyjs/transformer-throttler with its default options (every send scheduled at
 *      once, Bottleneck releases them), alone and with auto-retry on top as its docs advise;
 *  (c) by this project (DELIVERY_RATE=29.2, and =30 to show why not 30).
 */
import { Api } from "grammy";
import { autoRetry } from "@grammyjs/auto-retry";
import { apiThrottler } from "@grammyjs/transformer-throttler";
import { formatAsText, type TextMessage } from "../src/news/format.ts";
import { startBenchEmulator, type BenchEmulator } from "./emulator.ts";
import { figures, FIGURES_HEADER, figuresRow, type RunFigures } from "./metrics.ts";
import { benchChats, deliverOnce, seedChats, startPipeline } from "./pipeline.ts";
import { startRedis } from "./support.ts";

export interface SideBySideResult {
  emulator: "child" | "inprocess";
  subscribers: number;
  rows: RunFigures[];
}

/** Id of each approach, in the order of the table and the chart. */
export const APPROACH = {
  loop: "(a) grammY docs: sequential loop + auto-retry",
  throttler: "(b) transformer-throttler (defaults)",
  throttlerRetry: "(b′) transformer-throttler + auto-retry",
  ours: "(c) this project, DELIVERY_RATE=29.2",
  ours30: "(c′) this project, DELIVERY_RATE=30",
} as const;

async function baseline(
  emu: BenchEmulator,
  approach: string,
  chats: readonly number[],
  message: TextMessage,
  install: (api: Api) => void,
  send: (api: Api, chats: readonly number[], one: (api: Api, chat: number) => Promise<unknown>) => Promise<void>,
): Promise<RunFigures> {
  const api = new Api(emu.token, { apiRoot: emu.apiRoot });
  install(api);
  await emu.reset();
  let failed = 0;
  const one = (a: Api, chat: number) =>
    a.sendMessage(chat, message.text, { parse_mode: message.parse_mode, link_preview_options: message.link_preview_options }).catch(() => failed++);
  const t0 = Date.now();
  await send(api, chats, one);
  const f = figures({ approach, allowedRate: 30, audience: chats, t0, collected: await emu.collect() });
  if (failed !== f.lost) console.error(`${approach}: ${failed} sends failed, ${f.lost} chats without the message`);
  return f;
}

export async function runSideBySide(): Promise<SideBySideResult> {
  const n = Number(process.env.BENCH_N30 ?? 750);
  const redis = await startRedis();
  const emu = await startBenchEmulator({ globalRate: 30, paidRate: 1000, perChatRate: 1 });
  const chats = benchChats(n, 800_000_000);
  const rows: RunFigures[] = [];
  let message: TextMessage | undefined;
  try {
    for (const rate of [29.2, 30]) {
      const app = await startPipeline(redis.url, emu, { env: { DELIVERY_RATE: String(rate) } });
      try {
        if (rate !== 30) await seedChats(app, chats, "t03");
        const run = await deliverOnce(app, emu, {
          approach: rate !== 30 ? APPROACH.ours : APPROACH.ours30,
          tag: `sidebyside-${rate}-${Date.now()}`,
          audience: chats,
          topic: "t03",
          allowedRate: 30,
          configuredRate: rate,
          timeoutMs: (n / rate) * 3_000 + 30_000,
        });
        rows.push(run.figures);
        // The baselines send exactly what the pipeline sent: the same article, rendered the same way.
        const article = await app.articles.get(run.articleId);
        if (article && !message) message = formatAsText(article, {});
      } finally {
        await app.stop();
      }
    }
    if (!message) throw new Error("side by side: the bench article is gone");
    const msg = message;

    // (a) grammY's broadcast recipe: one message after another, auto-retry waits out every 429.
    rows.unshift(
      await baseline(emu, APPROACH.loop, chats, msg, (api) => api.config.use(autoRetry()), async (api, list, one) => {
        for (const chat of list) await one(api, chat);
      }),
    );
    // (b) the throttler queues every call (Bottleneck: 30 per 1 s reservoir, 1/s per private chat).
    const all = async (api: Api, list: readonly number[], one: (api: Api, chat: number) => Promise<unknown>) => {
      await Promise.all(list.map((chat) => one(api, chat)));
    };
    rows.splice(1, 0, await baseline(emu, APPROACH.throttler, chats, msg, (api) => api.config.use(apiThrottler()), all));
    // (b′) auto-retry installed last runs outermost: a 429 waits retry_after, then queues again.
    rows.splice(
      2,
      0,
      await baseline(emu, APPROACH.throttlerRetry, chats, msg, (api) => {
        api.config.use(apiThrottler());
        api.config.use(autoRetry());
      }, all),
    );
    return { emulator: emu.mode, subscribers: n, rows };
  } finally {
    await emu.close();
    await redis.stop();
  }
}

export function sideBySideTable(r: SideBySideResult): string {
  return [
    `Side by side: one article to ${r.subscribers.toLocaleString("en")} subscribers, the emulator at 30 msg/s over any sliding second (retry_after 1 s), ${r.emulator === "child" ? "in its own process" : "in the bench process"}.`,
    "",
    ...FIGURES_HEADER,
    ...r.rows.map(figuresRow),
  ].join("\n");
}
