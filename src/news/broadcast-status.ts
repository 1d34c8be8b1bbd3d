import { InlineKeyboard } from "grammy";
import type { DeliveryRecord } from "../store/deliveries.ts";
import { escapeHtml } from "./format.ts";

export type Translate = (key: string, vars?: Record<string, string | number>) => string;

export const stopData = (id: string) => `bcx:${id}`;
export const STOP_DATA = /^bcx:(b[0-9a-f]{16})$/;

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${s % 60}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** The delivery's state in the editor's words ("no_topic" can't happen to a broadcast; shown as finished). */
export function stateLabel(rec: DeliveryRecord, t: Translate): string {
  return t(`bc-state-${rec.state === "no_topic" ? "done" : rec.state}`);
}

export function isFinished(rec: DeliveryRecord): boolean {
  return rec.state === "done" || rec.state === "cancelled" || rec.state === "no_topic";
}

/**
 * The admin's live status message for a broadcast: counts, remaining and an ETA while it runs
 * (with a Cancel button), totals once it ended. `configuredRate` is used until a rate is measured.
 */
export function broadcastStatus(rec: DeliveryRecord, t: Translate, configuredRate: number, now = Date.now()): { text: string; keyboard?: InlineKeyboard } {
  const state = stateLabel(rec, t);
  const settled = rec.sent + rec.failed + rec.blocked;
  if (isFinished(rec)) {
    const took = rec.finishedAt && rec.queuedAt ? duration(rec.finishedAt - rec.queuedAt) : "—";
    return { text: t("bc-final", { state, audience: rec.audience, sent: rec.sent, failed: rec.failed, blocked: rec.blocked, took }) };
  }
  const remaining = Math.max(0, rec.audience - settled);
  const elapsed = rec.startedAt ? now - rec.startedAt : 0;
  const rate = elapsed > 2_000 && settled > 0 ? settled / (elapsed / 1000) : configuredRate;
  const eta = rec.audience > 0 && remaining > 0 ? t("bc-eta", { eta: duration((remaining / Math.max(rate, 0.1)) * 1000) }) : "";
  return {
    text: t("bc-progress", { state, sent: rec.sent, failed: rec.failed, blocked: rec.blocked, remaining, eta }),
    ...(rec.state === "cancelling" ? {} : { keyboard: new InlineKeyboard().text(t("bc-stop-button"), stopData(rec.articleId)) }),
  };
}

export function previewOf(html: string): string {
  const plain = html.replace(/<[^>]+>/g, "").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");
  const short = plain.length > 40 ? `${plain.slice(0, 40)}…` : plain;
  return escapeHtml(short.replace(/\s+/g, " "));
}
