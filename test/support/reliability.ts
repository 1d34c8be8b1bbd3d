import { expect } from "vitest";
import type { App } from "../../src/app.ts";
import type { SentEntry, TelegramEmulator } from "./telegram-emulator.ts";

/**
 * Subscribes `count` chats (ids from `firstId`) to `topics` through the stores' own Lua scripts,
 * `batch` at a time in parallel (as bench/audience.ts does): 10,000 take a second or two.
 */
export async function seedAudience(app: App, firstId: number, count: number, topics: string[], batch = 1_000): Promise<number[]> {
  const ids = Array.from({ length: count }, (_, i) => firstId + i);
  for (let i = 0; i < ids.length; i += batch) {
    await Promise.all(
      ids.slice(i, i + batch).map(async (id) => {
        await app.subscribers.subscribe(id, "en");
        await app.subscribers.setTopics(id, topics);
      }),
    );
  }
  return ids;
}

/** How many messages each chat got that match `match` (sends only, not edits). */
export function copiesPerChat(emu: TelegramEmulator, chats: number[], match: (e: SentEntry) => boolean): number[] {
  return chats.map((c) => emu.sent(c).filter((e) => (e.method === "sendMessage" || e.method === "sendPhoto") && match(e)).length);
}

export interface CopyTally {
  /** Chats that got nothing. */
  missing: number;
  /** Extra copies beyond the first, over all chats. */
  duplicates: number;
  /** Chats that got at least one copy. */
  reached: number;
}

export function tally(copies: number[]): CopyTally {
  let missing = 0;
  let duplicates = 0;
  for (const n of copies) {
    if (n === 0) missing++;
    else duplicates += n - 1;
  }
  return { missing, duplicates, reached: copies.length - missing };
}

export const textHas = (needle: string) => (e: SentEntry) => (e.plainText ?? e.plainCaption ?? "").includes(needle);

/** Prints a figure the docs quote, in one greppable line. */
export function report(label: string, figures: Record<string, unknown>): void {
  console.log(`[reliability] ${label}: ${Object.entries(figures).map(([k, v]) => `${k}=${String(v)}`).join(" ")}`);
}

// --- the editor's broadcast flow, driven through the emulator like a Telegram client ------------

export const ADMIN = { id: 9_900, first_name: "Editor", language_code: "en" };

export const buttonsOf = (e: SentEntry | undefined) =>
  (e?.reply_markup?.inline_keyboard ?? []).flat().map((b) => ({ text: b.text, data: "callback_data" in b ? b.callback_data : undefined }));

/** The bot's next message to the admin after the first `after` of them that contains `text`. */
export function nextToAdmin(emu: TelegramEmulator, after: number, text: string, timeout = 15_000): Promise<SentEntry> {
  return emu.waitFor(
    () => emu.sent(ADMIN.id).slice(after).find((e) => (e.plainText ?? e.plainCaption ?? "").includes(text)),
    timeout,
    `admin message containing "${text}"`,
  );
}

export async function pressAs(emu: TelegramEmulator, userId: number, messageId: number, data: string, opts: { force?: boolean } = {}) {
  const before = emu.callbackAnswers.length;
  emu.pressButton(userId, messageId, data, opts);
  return emu.waitFor(() => emu.callbackAnswers.length > before && emu.callbackAnswers[before], 15_000);
}

/**
 * /broadcast → text → the topics given (none: all subscribers) → preview → Send. Returns the broadcast's
 * article id and the admin's status message (the one the progress job keeps editing).
 */
export async function broadcastTo(emu: TelegramEmulator, text: string, topics: string[] = []): Promise<{ id: string; status: SentEntry; audienceMessage: SentEntry }> {
  const n0 = emu.sent(ADMIN.id).length;
  emu.sendCommand(ADMIN, "broadcast");
  await nextToAdmin(emu, n0, "New broadcast");
  const n1 = emu.sent(ADMIN.id).length;
  emu.sendText(ADMIN, text);
  const audienceMessage = await nextToAdmin(emu, n1, "Who gets it?");
  for (const topic of topics) await pressAs(emu, ADMIN.id, audienceMessage.message_id, `bc:t:${topic}`);
  const n2 = emu.sent(ADMIN.id).length;
  await pressAs(emu, ADMIN.id, audienceMessage.message_id, "bc:next");
  const ask = await nextToAdmin(emu, n2, "exactly what");
  await pressAs(emu, ADMIN.id, ask.message_id, "bc:send");
  const status = await nextToAdmin(emu, n2, "Broadcast queued");
  const id = buttonsOf(status).find((b) => b.data?.startsWith("bcx:"))?.data?.slice(4);
  expect(id).toMatch(/^b[0-9a-f]{16}$/);
  return { id: id!, status, audienceMessage };
}
