import { GrammyError, HttpError, type Api } from "grammy";
import type { OutgoingMessage } from "../news/format.ts";

/** What one send attempt came to, in the terms the delivery pipeline acts on. */
export type SendResult =
  | { kind: "sent"; messageId: number }
  | { kind: "rate-limited"; retryAfterMs: number }
  /** The chat is gone for good (blocked, deactivated, not found): deactivate, never retry. */
  | { kind: "unreachable"; reason: string }
  /** Telegram refused this message (bad request): retrying the same message can't help. */
  | { kind: "rejected"; reason: string }
  /** 5xx, timeouts, network: worth retrying later. */
  | { kind: "transient"; reason: string };

const UNREACHABLE = /chat not found|user is deactivated|bot was blocked|bot was kicked|PEER_ID_INVALID|have no rights to send|bot can't initiate|user not found|group chat was upgraded|CHAT_WRITE_FORBIDDEN/i;
// A photo Telegram can't fetch or use is the photo's fault, not the article's: fall back to text.
const BAD_PHOTO = /wrong file identifier|failed to get HTTP URL content|wrong type of the web page content|IMAGE_PROCESS_FAILED|PHOTO_INVALID|wrong remote file|WEBPAGE_CURL_FAILED|WEBPAGE_MEDIA_EMPTY|photo/i;

/** Anything shaped like a request URL path with a bot token in it. */
const TOKEN_IN_TEXT = /bot\d+:[\w-]+/g;

/**
 * Short, log- and metric-friendly reason. It ends up in Redis (failure counters, job reasons) where
 * the log masking can't reach, so it must never carry the token: a network error's message from
 * node-fetch contains the request URL, so only its code is kept.
 */
function reasonOf(err: unknown): string {
  if (err instanceof GrammyError) return `${err.error_code}: ${err.description}`.replace(TOKEN_IN_TEXT, "bot***").slice(0, 120);
  if (err instanceof HttpError) {
    const cause = err.error as { code?: unknown; name?: unknown } | undefined;
    const code = typeof cause?.code === "string" ? cause.code : typeof cause?.name === "string" ? cause.name : "error";
    return `network: ${code}`;
  }
  return `error: ${String((err as Error)?.message ?? err)}`.replace(TOKEN_IN_TEXT, "bot***").slice(0, 120);
}

export function classifySendError(err: unknown): Exclude<SendResult, { kind: "sent" }> {
  if (err instanceof GrammyError) {
    const reason = reasonOf(err);
    if (err.error_code === 429) {
      return { kind: "rate-limited", retryAfterMs: Math.max(1, err.parameters.retry_after ?? 1) * 1000 };
    }
    if (err.error_code === 403) return { kind: "unreachable", reason };
    if (err.error_code === 400 && UNREACHABLE.test(err.description)) return { kind: "unreachable", reason };
    if (err.error_code >= 500) return { kind: "transient", reason };
    return { kind: "rejected", reason };
  }
  return { kind: "transient", reason: reasonOf(err) };
}

/**
 * Sends one formatted article to one chat. A photo that Telegram refuses is retried once as text,
 * so a broken image never costs a reader the article.
 */
export async function sendOutgoing(
  api: Api,
  chatId: number,
  message: OutgoingMessage,
  textFallback: () => OutgoingMessage,
  opts: { paid: boolean },
): Promise<SendResult> {
  const paid = opts.paid ? { allow_paid_broadcast: true } : {};
  try {
    if (message.kind === "photo") {
      try {
        const m = await api.sendPhoto(chatId, message.photo, { caption: message.caption, parse_mode: "HTML", ...paid });
        return { kind: "sent", messageId: m.message_id };
      } catch (err) {
        if (!(err instanceof GrammyError && err.error_code === 400 && BAD_PHOTO.test(err.description) && !UNREACHABLE.test(err.description))) {
          throw err;
        }
        return await sendOutgoing(api, chatId, textFallback(), textFallback, opts);
      }
    }
    const m = await api.sendMessage(chatId, message.text, {
      parse_mode: "HTML",
      link_preview_options: message.link_preview_options,
      ...paid,
    });
    return { kind: "sent", messageId: m.message_id };
  } catch (err) {
    return classifySendError(err);
  }
}
