import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, uniquePrefix, type Harness } from "./support/harness.ts";
import { range, seedSubscribers, waitForFanout } from "./support/seed.ts";
import { startTelegramEmulator, type SentEntry, type TelegramEmulator } from "./support/telegram-emulator.ts";

const ADMIN = { id: 9000, first_name: "Editor", language_code: "en" };
const buttons = (e: SentEntry | undefined) => (e?.reply_markup?.inline_keyboard ?? []).flat().map((b) => ({ text: b.text, data: "callback_data" in b ? b.callback_data : undefined }));

function harness(extra: { env?: Record<string, string>; emu?: TelegramEmulator; prefix?: string } = {}) {
  return startHarness({
    env: { ADMIN_IDS: String(ADMIN.id), DELIVERY_RATE: "30", ...extra.env },
    tuning: { progressIntervalMs: 300 },
    ...(extra.emu ? { emu: extra.emu } : {}),
    ...(extra.prefix ? { prefix: extra.prefix } : {}),
  });
}

/** Waits for the bot's next message to the admin after `count` of them, matching `text`. */
async function nextToAdmin(h: Harness, after: number, text: string, timeout = 8_000): Promise<SentEntry> {
  return h.emu.waitFor(
    () => h.emu.sent(ADMIN.id).slice(after).find((e) => (e.plainText ?? e.plainCaption ?? "").includes(text)),
    timeout,
    `admin message containing "${text}"`,
  );
}

/** Runs /broadcast up to the audience keyboard; returns that message. */
async function composeText(h: Harness, text: string, entities: Parameters<TelegramEmulator["sendFormatted"]>[2] = []) {
  const n0 = h.emu.sent(ADMIN.id).length;
  h.emu.sendCommand(ADMIN, "broadcast");
  await nextToAdmin(h, n0, "New broadcast");
  const n1 = h.emu.sent(ADMIN.id).length;
  h.emu.sendFormatted(ADMIN, text, entities);
  return nextToAdmin(h, n1, "Who gets it?");
}

async function press(h: Harness, messageId: number, data: string) {
  const before = h.emu.callbackAnswers.length;
  h.emu.pressButton(ADMIN.id, messageId, data);
  return h.emu.waitFor(() => h.emu.callbackAnswers.length > before && h.emu.callbackAnswers[before]);
}

/** From the audience keyboard through preview and confirmation; returns the article id. */
async function confirm(h: Harness, audience: SentEntry) {
  const n = h.emu.sent(ADMIN.id).length;
  await press(h, audience.message_id, "bc:next");
  const ask = await nextToAdmin(h, n, "exactly what");
  await press(h, ask.message_id, "bc:send");
  const status = await nextToAdmin(h, n, "Broadcast queued");
  const id = buttons(status).find((b) => b.data?.startsWith("bcx:"))?.data?.slice(4);
  expect(id).toMatch(/^b[0-9a-f]{16}$/);
  return { id: id!, status };
}

describe("admin broadcasts", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
    await seedSubscribers(h.app, [
      ...range(61_000, 5).map((id) => ({ id, topics: ["energy"] })),
      ...range(62_000, 3).map((id) => ({ id, topics: ["cybersecurity"] })),
      { id: 63_000, topics: ["energy"], status: "stopped" as const },
    ]);
  });
  afterAll(() => h?.stop());

  it("for non-admins, admin commands behave exactly like unknown commands", async () => {
    const user = { id: 64_000, language_code: "en" };
    for (const cmd of ["broadcast", "broadcasts", "stats", "cancel"]) {
      const before = h.emu.sent(user.id).length;
      h.emu.sendCommand(user, cmd);
      const reply = await h.emu.waitFor(() => h.emu.sent(user.id)[before]);
      expect(reply.plainText, cmd).toBe("Sorry, I don't know that command. See /help for what I can do.");
      await new Promise((r) => setTimeout(r, 100));
      expect(h.emu.sent(user.id)).toHaveLength(before + 1);
    }
    // The admin menu is registered only in the editors' own chat.
    expect(h.emu.getCommands({ type: "default" }, "").map((c) => c.command)).not.toContain("broadcast");
    expect(h.emu.getCommands({ type: "chat", chat_id: ADMIN.id }, "").map((c) => c.command)).toContain("broadcast");
  });

  it("text: compose, pick topics with live counts, preview, confirm; readers get it formatted, the status ends with totals", async () => {
    const audience = await composeText(h, "Gas pipeline agreement signed today", [{ type: "bold", offset: 0, length: 12 }]);
    expect(audience.plainText).toContain("Recipients now: 8");
    expect(buttons(audience).map((b) => b.text)).toEqual(expect.arrayContaining(["✅ All subscribers (8)", "Energy (5)", "Cybersecurity (3)"]));

    await press(h, audience.message_id, "bc:t:energy");
    await h.emu.waitFor(() => h.emu.message(ADMIN.id, audience.message_id)?.plainText?.includes("Recipients now: 5"));
    const n = h.emu.sent(ADMIN.id).length;
    await press(h, audience.message_id, "bc:next");
    const preview = await nextToAdmin(h, n, "Gas pipeline agreement");
    expect(preview.text).toBe("<b>Gas pipeline</b> agreement signed today");
    const ask = await nextToAdmin(h, n, "exactly what 5 readers");
    await press(h, ask.message_id, "bc:send");
    const status = await nextToAdmin(h, n, "Broadcast queued for 5 readers");
    const id = buttons(status).find((b) => b.data?.startsWith("bcx:"))!.data!.slice(4);

    const rec = await waitForFanout(h.app, id);
    expect(rec).toMatchObject({ state: "done", audience: 5, sent: 5, priority: "breaking" });
    for (const chat of range(61_000, 5)) {
      const got = h.emu.sent(chat).filter((e) => e.text === "<b>Gas pipeline</b> agreement signed today");
      expect(got, `chat ${chat}`).toHaveLength(1);
    }
    for (const chat of [...range(62_000, 3), 63_000]) expect(h.emu.sent(chat)).toHaveLength(0);
    await h.emu.waitFor(() => h.emu.message(ADMIN.id, status.message_id)?.plainText?.includes("Broadcast finished"), 8_000);
    expect(h.emu.message(ADMIN.id, status.message_id)?.plainText).toContain("Audience: 5 · Sent: 5 · Failed: 0 · Blocked: 0");

    // /broadcasts lists it; /stats counts it.
    const before = h.emu.sent(ADMIN.id).length;
    h.emu.sendCommand(ADMIN, "broadcasts");
    const list = await nextToAdmin(h, before, "Recent broadcasts");
    expect(list.plainText).toContain("finished · 5/5");
    h.emu.sendCommand(ADMIN, "stats");
    const stats = await nextToAdmin(h, before, "Statistics");
    expect(stats.plainText).toContain("Subscribers: 9 (active 8, blocked 0, stopped 1)");
    expect(stats.plainText).toMatch(/Last 24 h: \d+ articles, 5 messages sent/);
  });

  it("photo with caption: preview and delivery by photo; an over-long caption gets a clear reply", async () => {
    const n0 = h.emu.sent(ADMIN.id).length;
    h.emu.sendCommand(ADMIN, "broadcast");
    await nextToAdmin(h, n0, "New broadcast");
    const n1 = h.emu.sent(ADMIN.id).length;
    h.emu.sendPhotoFromUser(ADMIN, { caption: "x".repeat(1100) });
    await nextToAdmin(h, n1, "This caption is 1,100 characters long; Telegram allows 1,024");
    const n2 = h.emu.sent(ADMIN.id).length;
    h.emu.sendPhotoFromUser(ADMIN, { caption: "Cyber drill in Ashgabat", caption_entities: [{ type: "italic", offset: 0, length: 11 }] });
    const audience = await nextToAdmin(h, n2, "Who gets it?");
    await press(h, audience.message_id, "bc:t:cybersecurity");
    const n3 = h.emu.sent(ADMIN.id).length;
    await press(h, audience.message_id, "bc:next");
    const preview = await h.emu.waitFor(() => h.emu.sent(ADMIN.id).slice(n3).find((e) => e.method === "sendPhoto"));
    expect(preview.caption).toBe("<i>Cyber drill</i> in Ashgabat");
    const ask = await nextToAdmin(h, n3, "exactly what 3 readers");
    await press(h, ask.message_id, "bc:send");
    const status = await nextToAdmin(h, n3, "Broadcast queued");
    const id = buttons(status).find((b) => b.data?.startsWith("bcx:"))!.data!.slice(4);
    expect(await waitForFanout(h.app, id)).toMatchObject({ audience: 3, sent: 3 });
    for (const chat of range(62_000, 3)) {
      const got = h.emu.sent(chat).filter((e) => e.method === "sendPhoto");
      expect(got).toHaveLength(1);
      expect(got[0]?.caption).toBe("<i>Cyber drill</i> in Ashgabat");
      expect(got[0]?.photo).toBe(preview.photo);
    }
  });

  it("/cancel leaves while composing, and the Cancel button leaves at the audience step", async () => {
    const n0 = h.emu.sent(ADMIN.id).length;
    h.emu.sendCommand(ADMIN, "broadcast");
    await nextToAdmin(h, n0, "New broadcast");
    h.emu.sendCommand(ADMIN, "cancel");
    await nextToAdmin(h, n0, "Broadcast cancelled");
    // Out of the conversation: plain text is no longer taken as a broadcast.
    const n1 = h.emu.sent(ADMIN.id).length;
    h.emu.sendText(ADMIN, "Not a broadcast");
    await nextToAdmin(h, n1, "I only understand commands");

    const audience = await composeText(h, "Draft that will be dropped");
    await press(h, audience.message_id, "bc:cancel");
    await h.emu.waitFor(() => h.emu.message(ADMIN.id, audience.message_id)?.plainText?.includes("Broadcast cancelled"));
    const recent = await h.app.redis.zcard(`{${h.config.redisPrefix}}:bc:recent`);
    expect(recent).toBe(2); // the text and the photo broadcast of the tests above, nothing more
  });
});

describe("broadcast delivery control", () => {
  it("Cancel during delivery stops it: no more messages leave once the cancel settles", async () => {
    const h = await harness({ env: { DELIVERY_RATE: "5" } });
    try {
      const chats = range(71_000, 40);
      await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["energy"] })));
      const audience = await composeText(h, "Mistaken alert");
      const { id, status } = await confirm(h, audience);
      const count = () => chats.filter((c) => h.emu.sent(c).length > 0).length;
      await h.emu.waitFor(() => count() >= 3, 10_000);
      await press(h, status.message_id, `bcx:${id}`);
      const rec = await waitForFanout(h.app, id, 10_000);
      expect(rec.state).toBe("cancelled");
      const settled = count();
      expect(settled).toBeLessThan(40);
      expect(rec.sent).toBe(settled);
      await new Promise((r) => setTimeout(r, 1_500));
      expect(count()).toBe(settled);
      await h.emu.waitFor(() => h.emu.message(ADMIN.id, status.message_id)?.plainText?.includes("Broadcast cancelled"), 8_000);
    } finally {
      await h.stop();
    }
  });

  it("a broadcast overtakes a large regular article already queued", async () => {
    const h = await harness({ env: { DELIVERY_RATE: "20" } });
    try {
      const chats = range(72_000, 80);
      await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["turkmenistan"] })));
      const normal = await h.app.ingest.ingest({
        item: { url: "https://news.example.org/long", title: "Annual report on Turkmenistan", summary: "" },
        source: { kind: "cms" },
        explicitTopics: ["turkmenistan"],
      });
      await h.emu.waitFor(() => chats.filter((c) => h.emu.sent(c).length > 0).length >= 5, 10_000);
      const audience = await composeText(h, "Breaking: airport closed");
      const { id } = await confirm(h, audience);
      const recB = await waitForFanout(h.app, id, 20_000);
      const recN = await waitForFanout(h.app, normal.id, 20_000);
      expect(recB).toMatchObject({ audience: 80, sent: 80 });
      expect(recN).toMatchObject({ audience: 80, sent: 80 });
      expect(recB.finishedAt!).toBeLessThan(recN.finishedAt!);
      for (const c of chats) {
        expect(h.emu.sent(c).filter((e) => e.plainText?.includes("airport closed"))).toHaveLength(1);
        expect(h.emu.sent(c).filter((e) => e.plainText?.includes("Annual report"))).toHaveLength(1);
      }
    } finally {
      await h.stop();
    }
  });

  it("with PAID_BROADCAST enabled the editor can choose paid delivery for one broadcast", async () => {
    const h = await harness({ env: { PAID_BROADCAST: "true" } });
    try {
      await seedSubscribers(h.app, [{ id: 75_000, topics: ["energy"] }, { id: 75_001, topics: ["energy"] }]);
      const audience = await composeText(h, "Paid alert");
      expect(buttons(audience).map((b) => b.text)).toContain("Paid delivery: off");
      await press(h, audience.message_id, "bc:paid");
      await h.emu.waitFor(() => buttons(h.emu.message(ADMIN.id, audience.message_id) as SentEntry).some((b) => b.text.startsWith("⭐ Paid delivery: on")));
      const { id } = await confirm(h, audience);
      expect(await waitForFanout(h.app, id)).toMatchObject({ paid: true, sent: 2 });
      for (const c of [75_000, 75_001]) expect(h.emu.sent(c)[0]?.allow_paid_broadcast).toBe(true);

      // The next one, left at the default, is not paid.
      const audience2 = await composeText(h, "Free alert");
      const second = await confirm(h, audience2);
      expect(await waitForFanout(h.app, second.id)).toMatchObject({ paid: false, sent: 2 });
      expect(h.emu.sent(75_000).at(-1)?.allow_paid_broadcast).toBeUndefined();
    } finally {
      await h.stop();
    }
  });

  it("a restart in the middle of the conversation resumes it", async () => {
    const emu = await startTelegramEmulator();
    const prefix = uniquePrefix();
    const first = await harness({ emu, prefix });
    await seedSubscribers(first.app, [{ id: 73_000, topics: ["energy"] }]);
    const audience = await composeText(first, "Resumed after restart");
    await first.app.stop();
    first.redis.disconnect();

    const second = await harness({ emu, prefix });
    try {
      const { id } = await confirm(second, audience);
      expect(await waitForFanout(second.app, id)).toMatchObject({ audience: 1, sent: 1 });
      expect(emu.sent(73_000).filter((e) => e.plainText === "Resumed after restart")).toHaveLength(1);
    } finally {
      await second.stop();
      await emu.close();
    }
  });

  it("a restart during delivery continues it once, and the status message stays right", async () => {
    const emu = await startTelegramEmulator();
    const prefix = uniquePrefix();
    const first = await harness({ emu, prefix, env: { DELIVERY_RATE: "10" } });
    const chats = range(74_000, 40);
    await seedSubscribers(first.app, chats.map((id) => ({ id, topics: ["energy"] })));
    const audience = await composeText(first, "Restart-proof alert");
    const { id, status } = await confirm(first, audience);
    await emu.waitFor(() => chats.filter((c) => emu.sent(c).length > 0).length >= 8, 10_000);
    await first.app.stop();
    first.redis.disconnect();

    const second = await harness({ emu, prefix, env: { DELIVERY_RATE: "10" } });
    try {
      const rec = await waitForFanout(second.app, id, 20_000);
      expect(rec).toMatchObject({ state: "done", audience: 40, sent: 40 });
      for (const c of chats) expect(emu.sent(c).filter((e) => e.plainText === "Restart-proof alert"), `chat ${c}`).toHaveLength(1);
      await emu.waitFor(() => emu.message(ADMIN.id, status.message_id)?.plainText?.includes("Sent: 40"), 8_000);
      expect(emu.message(ADMIN.id, status.message_id)?.plainText).toContain("Broadcast finished");
    } finally {
      await second.stop();
      await emu.close();
    }
  });
});
