import { GrammyError, type Api } from "grammy";
import type { Logger } from "../../src/logger.ts";
import { broadcastStatus, isFinished, type Translate } from "../../src/news/broadcast-status.ts";
import type { BroadcastStore } from "../../src/store/broadcasts.ts";
import type { DeliveryStore } from "../../src/store/deliveries.ts";
import type { BroadcastProgressData } from "../definitions.ts";

export interface BroadcastProgressDeps {
  api: Api;
  deliveries: DeliveryStore;
  broadcasts: BroadcastStore;
  /** Translations in the admin's language. */
  translatorFor: (adminId: number) => Promise<Translate>;
  configuredRate: (paid: boolean) => number;
  logger: Logger;
}

/**
 * Edits the admin's status message once. Returns "again" while the broadcast runs, so the job
 * re-schedules itself: the progress display lives in Redis and survives any restart.
 */
export async function processBroadcastProgress(data: BroadcastProgressData, deps: BroadcastProgressDeps): Promise<"again" | "finished" | "gone"> {
  const [info, rec] = await Promise.all([deps.broadcasts.get(data.articleId), deps.deliveries.record(data.articleId)]);
  if (!info || !rec) return "gone";
  const t = await deps.translatorFor(info.adminId);
  const status = broadcastStatus(rec, t, deps.configuredRate(rec.paid));
  try {
    await deps.api.editMessageText(info.chatId, info.statusMessageId, status.text, {
      parse_mode: "HTML",
      ...(status.keyboard ? { reply_markup: status.keyboard } : {}),
    });
  } catch (err) {
    // Nothing changed since the last edit: Telegram says so, and that is fine.
    if (!(err instanceof GrammyError && /message is not modified/.test(err.description))) {
      if (err instanceof GrammyError && err.error_code === 400) {
        // The admin deleted the message: stop updating it rather than retry forever.
        deps.logger.info({ articleId: data.articleId, reason: err.description }, "broadcast status message gone");
        return "gone";
      }
      throw err;
    }
  }
  return isFinished(rec) ? "finished" : "again";
}
