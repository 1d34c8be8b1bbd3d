import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./support/harness.ts";
import type { SentEntry } from "./support/telegram-emulator.ts";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

const buttons = (e: SentEntry | undefined) => (e?.reply_markup?.inline_keyboard ?? []).flat().map((b) => ({ text: b.text, data: "callback_data" in b ? b.callback_data : undefined }));

async function subscriberHash(chatId: number) {
  return h.redis.hgetall(`{${h.config.redisPrefix}}:sub:${chatId}`);
}
async function bit(key: string, uid: number) {
  return h.redis.getbit(`{${h.config.redisPrefix}}:${key}`, uid);
}

/** Sends /start and returns the picker message. */
async function start(user: { id: number; language_code?: string; first_name?: string }) {
  const before = h.emu.sent(user.id).length;
  h.emu.sendCommand(user, "start");
  return h.emu.waitFor(() => {
    const s = h.emu.sent(user.id).slice(before);
    return s.length >= 2 && s[1];
  });
}

async function press(userId: number, messageId: number, data: string, opts: { force?: boolean } = {}) {
  const before = h.emu.callbackAnswers.length;
  h.emu.pressButton(userId, messageId, data, opts);
  return h.emu.waitFor(() => h.emu.callbackAnswers.length > before && h.emu.callbackAnswers[before]);
}

describe("subscription and the topic picker", () => {
  it("/start subscribes the chat and opens the picker with one button per topic, All and Done", async () => {
    const user = { id: 5001, first_name: "Aman", language_code: "en" };
    const picker = await start(user);
    const welcome = h.emu.sent(user.id)[0];
    expect(welcome?.plainText).toContain("Welcome to Test News Agency");
    expect(buttons(picker).map((b) => b.text)).toEqual([
      "Turkmenistan",
      "Digital economy",
      "Cybersecurity",
      "Energy",
      "📚 All topics",
      "✔️ Done",
    ]);
    const rec = await subscriberHash(user.id);
    expect(rec.status).toBe("active");
    expect(rec.lang).toBe("en");
    expect(rec.topics).toBe("");
    expect(Number(rec.joined_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(await bit("active", Number(rec.uid))).toBe(1);
  });

  it("toggles a topic in place: keyboard edited, query answered, record and bitmap changed together", async () => {
    const user = { id: 5002, language_code: "en" };
    const picker = await start(user);
    const uid = Number((await subscriberHash(user.id)).uid);

    const answer = await press(user.id, picker.message_id, "tp:t:energy");
    expect(answer.text).toBe("Added: Energy");
    await h.emu.waitFor(() => h.emu.message(user.id, picker.message_id)?.editCount === 1);
    const edited = h.emu.message(user.id, picker.message_id);
    expect(buttons(edited as SentEntry).map((b) => b.text)).toContain("✅ Energy");
    expect((await subscriberHash(user.id)).topics).toBe("energy");
    expect(await bit("topic:energy", uid)).toBe(1);

    const answer2 = await press(user.id, picker.message_id, "tp:t:energy");
    expect(answer2.text).toBe("Removed: Energy");
    expect((await subscriberHash(user.id)).topics).toBe("");
    expect(await bit("topic:energy", uid)).toBe(0);
    // Still the same message: toggles never send a new one.
    expect(h.emu.sent(user.id).filter((e) => e.method === "sendMessage")).toHaveLength(2);
  });

  it("All topics selects every topic, and clears them when all were selected; Done saves", async () => {
    const user = { id: 5003, language_code: "en" };
    const picker = await start(user);
    const uid = Number((await subscriberHash(user.id)).uid);

    expect((await press(user.id, picker.message_id, "tp:done")).show_alert).toBe(true); // nothing chosen yet

    expect((await press(user.id, picker.message_id, "tp:all")).text).toBe("All topics selected");
    expect((await subscriberHash(user.id)).topics).toBe("turkmenistan,digital_economy,cybersecurity,energy");
    for (const t of ["turkmenistan", "digital_economy", "cybersecurity", "energy"]) expect(await bit(`topic:${t}`, uid)).toBe(1);
    await h.emu.waitFor(() => buttons(h.emu.message(user.id, picker.message_id) as SentEntry).some((b) => b.text === "✅ All topics"));

    expect((await press(user.id, picker.message_id, "tp:all")).text).toBe("All topics cleared");
    expect((await subscriberHash(user.id)).topics).toBe("");
    expect(await bit("topic:turkmenistan", uid)).toBe(0);

    await press(user.id, picker.message_id, "tp:t:turkmenistan");
    await press(user.id, picker.message_id, "tp:t:cybersecurity");
    await press(user.id, picker.message_id, "tp:done");
    await h.emu.waitFor(() => h.emu.message(user.id, picker.message_id)?.text?.includes("Saved"));
    expect(h.emu.message(user.id, picker.message_id)?.text).toContain("Turkmenistan, Cybersecurity");

    // /topics reopens the picker with the current choice marked.
    h.emu.sendCommand(user, "topics");
    const reopened = await h.emu.waitFor(() => h.emu.sent(user.id).filter((e) => e.method === "sendMessage")[2]);
    expect(buttons(reopened).filter((b) => b.text.startsWith("✅")).map((b) => b.text)).toEqual(["✅ Turkmenistan", "✅ Cybersecurity"]);
  });

  it("/stop keeps preferences but stops pushes; /start again restores the earlier choice", async () => {
    const user = { id: 5004, language_code: "en" };
    const picker = await start(user);
    await press(user.id, picker.message_id, "tp:t:digital_economy");
    const uid = Number((await subscriberHash(user.id)).uid);

    h.emu.sendCommand(user, "stop");
    await h.emu.waitFor(() => h.emu.lastSent(user.id)?.plainText?.includes("unsubscribed"));
    let rec = await subscriberHash(user.id);
    expect(rec.status).toBe("stopped");
    expect(rec.topics).toBe("digital_economy");
    expect(await bit("active", uid)).toBe(0);
    expect(await bit("topic:digital_economy", uid)).toBe(1);
    expect(await h.app.subscribers.countAudience(["digital_economy"])).toBe(0);

    const picker2 = await start(user);
    expect(h.emu.sent(user.id).at(-2)?.plainText).toContain("Welcome back");
    expect(buttons(picker2).filter((b) => b.text.startsWith("✅")).map((b) => b.text)).toEqual(["✅ Digital economy"]);
    rec = await subscriberHash(user.id);
    expect(rec.status).toBe("active");
    expect(rec.uid).toBe(String(uid));
    expect(await bit("active", uid)).toBe(1);
    expect(await h.app.subscribers.countAudience(["digital_economy"])).toBeGreaterThanOrEqual(1);
  });

  it("a user who blocks the bot is marked inactive; unblock and /start reactivates", async () => {
    const user = { id: 5005, language_code: "en" };
    await start(user);
    const uid = Number((await subscriberHash(user.id)).uid);
    h.emu.myChatMember(user, "kicked");
    await h.emu.waitFor(async () => true);
    await expect.poll(async () => (await subscriberHash(user.id)).status).toBe("blocked");
    expect(await bit("active", uid)).toBe(0);

    h.emu.myChatMember(user, "member");
    await start(user);
    expect((await subscriberHash(user.id)).status).toBe("active");
    expect(await bit("active", uid)).toBe(1);
  });

  it("tampered, unknown or oversized callback data gets a polite answer and changes nothing", async () => {
    const user = { id: 5006, language_code: "en" };
    const picker = await start(user);
    await press(user.id, picker.message_id, "tp:t:energy");
    const before = await subscriberHash(user.id);
    const editsBefore = h.emu.message(user.id, picker.message_id)?.editCount;

    for (const data of ["tp:t:no_such_topic", "tp:t:ENERGY", "tp:t:energy;drop", "garbage", "tp:", "x".repeat(64), "lang:xx"]) {
      const a = await press(user.id, picker.message_id, data, { force: true });
      expect(a.text, data).toBe("This button is no longer valid. Send /topics to open a fresh picker.");
      expect(a.show_alert).toBe(true);
    }
    const after = await subscriberHash(user.id);
    expect(after.topics).toBe(before.topics);
    expect(after.updated_at).toBe(before.updated_at);
    expect(h.emu.message(user.id, picker.message_id)?.editCount).toBe(editsBefore);
  });

  it("/language switches the interface between English and Russian", async () => {
    const user = { id: 5007, language_code: "en" };
    await start(user);
    h.emu.sendCommand(user, "language");
    const chooser = await h.emu.waitFor(() => h.emu.lastSent(user.id)?.plainText?.includes("interface language") && h.emu.lastSent(user.id));
    expect(buttons(chooser).map((b) => b.data)).toEqual(["lang:en", "lang:ru"]);
    const a = await press(user.id, chooser.message_id, "lang:ru");
    expect(a.text).toBe("Язык: русский 🇷🇺");
    expect((await subscriberHash(user.id)).lang).toBe("ru");
    expect(await bit("lang:ru", Number((await subscriberHash(user.id)).uid))).toBe(1);

    h.emu.sendCommand(user, "help");
    await h.emu.waitFor(() => h.emu.lastSent(user.id)?.plainText?.includes("присылает новости"));
    h.emu.sendCommand(user, "topics");
    const picker = await h.emu.waitFor(() => h.emu.lastSent(user.id)?.plainText?.startsWith("Выберите темы") && h.emu.lastSent(user.id));
    expect(buttons(picker).map((b) => b.text)).toContain("Энергетика");
  });

  it("the first language comes from the user's Telegram language", async () => {
    const user = { id: 5008, language_code: "ru" };
    const picker = await start(user);
    expect(h.emu.sent(user.id)[0]?.plainText).toContain("Добро пожаловать");
    expect(buttons(picker).map((b) => b.text)).toContain("Туркменистан");
    expect((await subscriberHash(user.id)).lang).toBe("ru");
  });

  it("registers the command menu in English and Russian at start-up", () => {
    const en = h.emu.getCommands({ type: "default" }, "");
    const ru = h.emu.getCommands({ type: "default" }, "ru");
    expect(en.map((c) => c.command)).toEqual(["start", "topics", "language", "help", "stop"]);
    expect(ru.find((c) => c.command === "stop")?.description).toBe("Отписаться");
  });

  it("unknown commands and plain text get a pointer to /help", async () => {
    const user = { id: 5009, language_code: "en" };
    h.emu.sendText(user, "/nonsense");
    await h.emu.waitFor(() => h.emu.lastSent(user.id)?.plainText?.includes("don't know that command"));
    h.emu.sendText(user, "hello?");
    await h.emu.waitFor(() => h.emu.lastSent(user.id)?.plainText?.includes("only understand commands"));
  });
});
