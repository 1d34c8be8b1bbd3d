import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Bot, GrammyError, InlineKeyboard } from "grammy";
import type { Update } from "grammy/types";
import { createTelegramEmulator, type TelegramEmulator } from "./support/telegram-emulator.ts";
import { parseTelegramHtml } from "./support/telegram-html.ts";

interface ApiResponse<T = unknown> {
  ok: boolean;
  result?: T;
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number };
}

let emu: TelegramEmulator;

/** Raw Bot API call, bypassing grammY, to check status codes and wire format. */
async function raw<T = unknown>(
  method: string,
  body?: Record<string, unknown>,
  opts: { token?: string; signal?: AbortSignal } = {},
): Promise<{ status: number; json: ApiResponse<T> }> {
  const res = await fetch(`${emu.apiRoot}/bot${opts.token ?? emu.token}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
    signal: opts.signal,
  });
  return { status: res.status, json: (await res.json()) as ApiResponse<T> };
}

function newBot(): Bot {
  return new Bot(emu.token, { client: { apiRoot: emu.apiRoot }, botInfo: emu.botInfo });
}

/** Awaits a promise expected to fail with a GrammyError. */
async function grammyError(p: Promise<unknown>): Promise<GrammyError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof GrammyError) return err;
    throw err;
  }
  throw new Error("expected the call to fail with a GrammyError");
}

beforeAll(async () => {
  emu = createTelegramEmulator();
  await emu.start();
});

afterAll(async () => {
  await emu.close();
});

beforeEach(() => {
  emu.reset();
});

describe("basics", () => {
  it("answers getMe with the configured bot and rejects other tokens with 401", async () => {
    const bot = newBot();
    const me = await bot.api.getMe();
    expect(me).toEqual(emu.botInfo);
    expect(me.is_bot).toBe(true);
    expect(emu.apiRoot).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const wrong = await raw("getMe", {}, { token: "654321:other-token" });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual({ ok: false, error_code: 401, description: "Unauthorized" });
  });

  it("answers unknown methods with 404 Not Found", async () => {
    const r = await raw("sendTelepathy", { chat_id: 1 });
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ ok: false, error_code: 404, description: "Not Found" });

    const bot = newBot();
    const api = bot.api.raw as unknown as Record<string, (p: object) => Promise<unknown>>;
    const err = await grammyError(api.sendTelepathy!({ chat_id: 1 }));
    expect(err.error_code).toBe(404);
  });

  it("accepts urlencoded bodies, matches method names case-insensitively, rejects multipart", async () => {
    const form = await fetch(`${emu.apiRoot}/bot${emu.token}/sendmessage`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        chat_id: "7",
        text: "form",
        reply_markup: JSON.stringify({ inline_keyboard: [[{ text: "a", callback_data: "a" }]] }),
      }),
    });
    expect(form.status).toBe(200);
    expect(emu.sent(7)[0]).toMatchObject({ method: "sendMessage", text: "form", reply_markup: { inline_keyboard: [[{ text: "a" }]] } });

    const fd = new FormData();
    fd.set("chat_id", "7");
    fd.set("text", "x");
    const multi = await fetch(`${emu.apiRoot}/bot${emu.token}/sendMessage`, { method: "POST", body: fd });
    expect(multi.status).toBe(400);
    expect(((await multi.json()) as ApiResponse).description).toBe("Bad Request: multipart not supported by emulator");
  });

  it("numbers messages per chat, records sends and supports photos, actions, deletes", async () => {
    const bot = newBot();
    const a1 = await bot.api.sendMessage(100, "one");
    const b1 = await bot.api.sendMessage(200, "other chat");
    const a2 = await bot.api.sendMessage(100, "two", { link_preview_options: { is_disabled: true } });
    expect([a1.message_id, a2.message_id, b1.message_id]).toEqual([1, 2, 1]);
    expect(a1.chat).toMatchObject({ id: 100, type: "private" });
    expect(a1.from?.id).toBe(emu.botInfo.id);

    const photo = await bot.api.sendPhoto(100, "https://example.com/p.jpg", { caption: "<b>Pic</b>", parse_mode: "HTML" });
    expect(photo.photo?.length).toBeGreaterThan(0);
    expect(photo.caption).toBe("Pic");
    expect(photo.caption_entities).toEqual([{ type: "bold", offset: 0, length: 3 }]);

    await expect(bot.api.sendChatAction(100, "typing")).resolves.toBe(true);
    await expect(bot.api.deleteMessage(100, a1.message_id)).resolves.toBe(true);
    const gone = await grammyError(bot.api.deleteMessage(100, a1.message_id));
    expect(gone.description).toBe("Bad Request: message to delete not found");

    const sent = emu.sent(100);
    expect(sent.map((s) => s.method)).toEqual(["sendMessage", "sendMessage", "sendPhoto", "deleteMessage"]);
    expect(sent[1]).toMatchObject({ text: "two", link_preview_options: { is_disabled: true } });
    expect(sent[2]).toMatchObject({ photo: "https://example.com/p.jpg", caption: "<b>Pic</b>", plainCaption: "Pic", parse_mode: "HTML" });
    expect(emu.sent()).toHaveLength(5);
    expect(emu.countSent).toBe(4);
    expect(emu.message(100, a1.message_id)?.deleted).toBe(true);
  });

  it("requires chat_id", async () => {
    const r = await raw("sendMessage", { text: "hi" });
    expect(r.status).toBe(400);
    expect(r.json.description).toBe("Bad Request: chat_id is empty");
  });
});

describe("getUpdates long polling", () => {
  it("returns unconfirmed updates until offset confirms them, honouring limit", async () => {
    const u1 = emu.sendText({ id: 5, first_name: "Ann" }, "hello");
    const u2 = emu.sendCommand({ id: 5 }, "start", "ref42");
    const u3 = emu.sendText(6, "/help@test_bot now");
    expect(u2.update_id).toBe(u1.update_id + 1);
    expect(u2.message?.text).toBe("/start ref42");
    expect(u2.message?.entities).toEqual([{ type: "bot_command", offset: 0, length: 6 }]);
    expect(u3.message?.entities).toEqual([{ type: "bot_command", offset: 0, length: 14 }]);
    expect(u1.message?.chat).toMatchObject({ id: 5, type: "private", first_name: "Ann" });

    const all = await raw<Update[]>("getUpdates");
    expect(all.json.result?.map((u) => u.update_id)).toEqual([u1.update_id, u2.update_id, u3.update_id]);
    // Without an offset nothing is confirmed.
    const again = await raw<Update[]>("getUpdates", { limit: 2 });
    expect(again.json.result?.map((u) => u.update_id)).toEqual([u1.update_id, u2.update_id]);
    // offset = id + 1 confirms everything up to id.
    const rest = await raw<Update[]>("getUpdates", { offset: u2.update_id });
    expect(rest.json.result?.map((u) => u.update_id)).toEqual([u2.update_id, u3.update_id]);
    const none = await raw<Update[]>("getUpdates", { offset: u3.update_id + 1 });
    expect(none.json.result).toEqual([]);
    expect(emu.pendingUpdates).toEqual([]);

    // Negative offset keeps only the last |offset| updates.
    emu.sendText(5, "a");
    const b = emu.sendText(5, "b");
    const last = await raw<Update[]>("getUpdates", { offset: -1 });
    expect(last.json.result?.map((u) => u.update_id)).toEqual([b.update_id]);
  });

  it("holds the request until an update arrives or the timeout passes", async () => {
    const t0 = Date.now();
    const pending = raw<Update[]>("getUpdates", { timeout: 5 });
    setTimeout(() => emu.sendText(9, "late"), 150);
    const got = await pending;
    expect(got.json.result?.[0]?.message?.text).toBe("late");
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect(Date.now() - t0).toBeLessThan(2000);

    const t1 = Date.now();
    const empty = await raw<Update[]>("getUpdates", { offset: got.json.result![0]!.update_id + 1, timeout: 1 });
    expect(empty.json.result).toEqual([]);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(900);
  });

  it("terminates an older pending getUpdates with 409 when a new one arrives", async () => {
    const first = raw<Update[]>("getUpdates", { timeout: 10 });
    await emu.waitFor((e) => e.isPolling);
    const second = raw<Update[]>("getUpdates", { timeout: 0 });
    const [a, b] = await Promise.all([first, second]);
    expect(a.status).toBe(409);
    expect(a.json.description).toBe("Conflict: terminated by other getUpdates request; make sure that only one bot instance is running");
    expect(b.status).toBe(200);
  });

  it("drives a real grammY bot: commands, inline buttons, callback answers, edits", async () => {
    const bot = newBot();
    bot.command("start", async (ctx) => {
      await ctx.reply(`Hi <b>${ctx.match || "there"}</b>`, {
        parse_mode: "HTML",
        reply_markup: new InlineKeyboard().text("Subscribe", "sub:tech"),
      });
    });
    bot.callbackQuery(/^sub:(.+)$/, async (ctx) => {
      await ctx.answerCallbackQuery({ text: `Subscribed to ${ctx.match[1]}` });
      await ctx.editMessageText("Subscribed ✅");
    });
    bot.catch((err) => console.error(err));
    const running = bot.start({ timeout: 1 });
    try {
      emu.sendCommand({ id: 42, first_name: "Bob" }, "start", "Bob");
      const reply = await emu.waitFor((e) => e.lastSent(42));
      expect(reply).toMatchObject({ method: "sendMessage", text: "Hi <b>Bob</b>", plainText: "Hi Bob", parse_mode: "HTML" });
      expect(reply.entities).toEqual([{ type: "bold", offset: 3, length: 3 }]);

      emu.pressButton({ id: 42 }, reply.message_id, "sub:tech");
      await emu.waitFor((e) => e.lastSent(42)?.method === "editMessageText");
      expect(emu.callbackAnswers).toMatchObject([{ text: "Subscribed to tech", chat_id: 42, message_id: reply.message_id }]);
      const now = emu.message(42, reply.message_id);
      expect(now?.plainText).toBe("Subscribed ✅");
      expect(now?.editCount).toBe(1);
      // editMessageText without reply_markup drops the keyboard, as on Telegram.
      expect(now?.message.reply_markup).toBeUndefined();
      expect(() => emu.pressButton(42, reply.message_id, "sub:tech")).toThrow(/no button/);
    } finally {
      await bot.stop();
      await running;
    }
    expect(emu.pendingUpdates).toEqual([]);
  });
});

describe("validation", () => {
  it("checks text length after entity parsing", async () => {
    const bot = newBot();
    await expect(bot.api.sendMessage(1, "x".repeat(4096))).resolves.toMatchObject({ text: "x".repeat(4096) });
    const long = await grammyError(bot.api.sendMessage(2, "x".repeat(4097)));
    expect(long.error_code).toBe(400);
    expect(long.description).toBe("Bad Request: message is too long");
    // Tags don't count: 4096 visible characters wrapped in <b> are fine.
    await expect(bot.api.sendMessage(3, `<b>${"y".repeat(4096)}</b>`, { parse_mode: "HTML" })).resolves.toBeDefined();
    // Entities count as one character each.
    await expect(bot.api.sendMessage(4, "&lt;".repeat(4096), { parse_mode: "HTML" })).resolves.toBeDefined();
    expect((await grammyError(bot.api.sendMessage(5, "&amp;".repeat(4097), { parse_mode: "HTML" }))).description).toBe(
      "Bad Request: message is too long",
    );

    expect((await grammyError(bot.api.sendMessage(6, ""))).description).toBe("Bad Request: message text is empty");
    expect((await grammyError(bot.api.sendMessage(6, "  \n "))).description).toBe("Bad Request: message text is empty");
    expect((await grammyError(bot.api.sendMessage(6, "<b></b>", { parse_mode: "HTML" }))).description).toBe(
      "Bad Request: message text is empty",
    );

    await expect(bot.api.sendPhoto(7, "https://e.com/a.png", { caption: "c".repeat(1024) })).resolves.toBeDefined();
    const cap = await grammyError(bot.api.sendPhoto(8, "https://e.com/a.png", { caption: "c".repeat(1025) }));
    expect(cap.description).toBe("Bad Request: message caption is too long");
    expect(emu.countSent).toBe(4);
  });

  it("accepts Telegram HTML and reports entities", async () => {
    const bot = newBot();
    const msg = await bot.api.sendMessage(
      1,
      '<b>B</b> <strong>S</strong> <i>I</i> <em>E</em> <u>U</u> <ins>N</ins> <s>S</s> <strike>K</strike> <del>D</del> ' +
        '<span class="tg-spoiler">sp</span> <tg-spoiler>t</tg-spoiler> <a href="https://e.com/?a=1&amp;b=2">link</a> ' +
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> <code>c</code> ' +
        '<pre><code class="language-ts">let x = 1;</code></pre> <blockquote>q</blockquote> <blockquote expandable>eq</blockquote> ' +
        "&lt;&gt;&amp;&quot; &#65;&#x42;",
      { parse_mode: "HTML" },
    );
    expect(msg.text).toBe("B S I E U N S K D sp t link 👍 c let x = 1; q eq <>&\" AB");
    const types = msg.entities?.map((e) => e.type);
    expect(types).toEqual([
      "bold", "bold", "italic", "italic", "underline", "underline", "strikethrough", "strikethrough", "strikethrough",
      "spoiler", "spoiler", "text_link", "custom_emoji", "code", "pre", "blockquote", "expandable_blockquote",
    ]);
    expect(msg.entities?.find((e) => e.type === "text_link")).toMatchObject({ url: "https://e.com/?a=1&b=2", length: 4 });
    expect(msg.entities?.find((e) => e.type === "pre")).toMatchObject({ language: "ts", length: 10 });
    // UTF-16 offsets: the emoji counts as two units.
    expect(parseTelegramHtml("😀<b>y</b>").entities).toEqual([{ type: "bold", offset: 2, length: 1 }]);
  });

  it.each([
    ["hello <div>x</div>", 'Unsupported start tag "div" at byte offset 6'],
    ["<b>bold", 'Can\'t find end tag corresponding to start tag "b"'],
    ["text</b>", "Unexpected end tag at byte offset 4"],
    ["<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'],
    ["<a>no href</a>", 'Tag "a" must have a non-empty attribute "href" at byte offset 0'],
    ['<a href="https://a.b"><a href="https://c.d">x</a></a>', 'Nested "a" tags are not allowed at byte offset 22'],
    ["<span>s</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'],
    ["fish & chips", 'Unescaped "&" at byte offset 5; use "&amp;"'],
    ["a &nbsp; b", 'Unsupported HTML entity "&nbsp;" at byte offset 2'],
    ["1 < 2", 'Unsupported start tag "" at byte offset 2'],
    ["é<p>", 'Unsupported start tag "p" at byte offset 2'],
  ])("rejects %j", async (html, reason) => {
    const err = await grammyError(newBot().api.sendMessage(1, html, { parse_mode: "HTML" }));
    expect(err.error_code).toBe(400);
    expect(err.description).toBe(`Bad Request: can't parse entities: ${reason}`);
    expect(() => parseTelegramHtml(html)).toThrow(reason);
  });

  it("sends plain text untouched without parse_mode and rejects unknown parse modes", async () => {
    const bot = newBot();
    await expect(bot.api.sendMessage(1, "a < b & <div>")).resolves.toMatchObject({ text: "a < b & <div>" });
    const r = await raw("sendMessage", { chat_id: 1, text: "x", parse_mode: "BBCode" });
    expect(r.json.description).toBe("Bad Request: unsupported parse_mode");
  });

  it("limits callback_data to 1-64 bytes of UTF-8", async () => {
    const bot = newBot();
    const kb = (data: string) => ({ reply_markup: { inline_keyboard: [[{ text: "b", callback_data: data }]] } });
    await expect(bot.api.sendMessage(1, "ok", kb("x".repeat(64)))).resolves.toBeDefined();
    for (const data of ["x".repeat(65), "€".repeat(22), ""]) {
      const err = await grammyError(bot.api.sendMessage(2, "bad", kb(data)));
      expect(err.description).toBe("Bad Request: BUTTON_DATA_INVALID");
    }
    const textOnly = await grammyError(bot.api.sendMessage(2, "bad", { reply_markup: { inline_keyboard: [[{ text: "t" } as never]] } }));
    expect(textOnly.description).toMatch(/^Bad Request: can't parse inline keyboard button/);
    expect(emu.sent(2)).toEqual([]);
  });

  it("answers callback queries once and rejects unknown ids", async () => {
    const bot = newBot();
    const m = await bot.api.sendMessage(3, "pick", { reply_markup: new InlineKeyboard().text("A", "a") });
    const upd = emu.pressButton(3, m, "a");
    const id = upd.callback_query!.id;
    expect(upd.callback_query).toMatchObject({ data: "a", from: { id: 3 }, message: { message_id: m.message_id, text: "pick" } });
    await expect(bot.api.answerCallbackQuery(id, { text: "done", show_alert: true })).resolves.toBe(true);
    expect(emu.callbackAnswers).toMatchObject([{ callback_query_id: id, text: "done", show_alert: true }]);
    const again = await grammyError(bot.api.answerCallbackQuery(id));
    expect(again.description).toBe("Bad Request: query is too old and response timeout expired or query ID is invalid");
  });

  it("stores commands per scope and language", async () => {
    const bot = newBot();
    await bot.api.setMyCommands([{ command: "start", description: "Start" }]);
    await bot.api.setMyCommands([{ command: "start", description: "Начать" }], { language_code: "ru" });
    await bot.api.setMyCommands([{ command: "admin", description: "Admin" }], { scope: { type: "chat", chat_id: 5 } });
    expect(await bot.api.getMyCommands()).toEqual([{ command: "start", description: "Start" }]);
    expect(await bot.api.getMyCommands({ language_code: "ru" })).toEqual([{ command: "start", description: "Начать" }]);
    expect(emu.getCommands({ type: "chat", chat_id: 5 })).toEqual([{ command: "admin", description: "Admin" }]);
    expect(emu.commands).toHaveLength(3);
    const bad = await grammyError(bot.api.setMyCommands([{ command: "Bad Command", description: "x" }]));
    expect(bad.description).toBe("Bad Request: BOT_COMMAND_INVALID");
  });
});

describe("edits", () => {
  it("reports not-modified edits and unknown messages like Telegram", async () => {
    const bot = newBot();
    const kb = new InlineKeyboard().text("A", "a");
    const m = await bot.api.sendMessage(10, "<b>v1</b>", { parse_mode: "HTML", reply_markup: kb });

    const same = await grammyError(bot.api.editMessageText(10, m.message_id, "<b>v1</b>", { parse_mode: "HTML", reply_markup: kb }));
    expect(same.error_code).toBe(400);
    expect(same.description).toBe(
      "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
    );
    // Same visible text but different entities is a modification.
    await expect(bot.api.editMessageText(10, m.message_id, "v1", { reply_markup: kb })).resolves.toMatchObject({ text: "v1" });
    const sameMarkup = await grammyError(bot.api.editMessageReplyMarkup(10, m.message_id, { reply_markup: kb }));
    expect(sameMarkup.description).toMatch(/^Bad Request: message is not modified/);
    const removed = await bot.api.editMessageReplyMarkup(10, m.message_id);
    expect(removed).toMatchObject({ message_id: m.message_id });
    expect((removed as { reply_markup?: unknown }).reply_markup).toBeUndefined();

    const missing = await grammyError(bot.api.editMessageText(10, 999, "x"));
    expect(missing.description).toBe("Bad Request: message to edit not found");
    const missingMarkup = await grammyError(bot.api.editMessageReplyMarkup(10, 999, { reply_markup: kb }));
    expect(missingMarkup.description).toBe("Bad Request: message to edit not found");

    expect(emu.sent(10).map((s) => s.method)).toEqual(["sendMessage", "editMessageText", "editMessageReplyMarkup"]);
    expect(emu.message(10, m.message_id)).toMatchObject({ text: "v1", plainText: "v1", editCount: 2 });
    expect(emu.countEdits).toBe(2);
  });
});

describe("flood control", () => {
  it("answers 429 with retry_after above the global rate and records nothing", async () => {
    emu.setPerChatLimit(Infinity);
    emu.setGlobalRate(5);
    const bot = newBot();
    for (let i = 0; i < 5; i++) await bot.api.sendMessage(1000 + i, "ok");
    const err = await grammyError(bot.api.sendMessage(2000, "too fast"));
    expect(err.error_code).toBe(429);
    expect(err.description).toBe("Too Many Requests: retry after 1");
    expect(err.parameters.retry_after).toBe(1);
    expect(emu.sent(2000)).toEqual([]);
    expect(emu.countSent).toBe(5);
    expect(emu.count429).toBe(1);

    // Paid broadcasts use their own, higher limit.
    await expect(bot.api.sendMessage(2001, "paid", { allow_paid_broadcast: true })).resolves.toBeDefined();
    expect(emu.lastSent(2001)?.allow_paid_broadcast).toBe(true);

    // The window slides: after a second the bot may send again.
    await new Promise((r) => setTimeout(r, 1050));
    await expect(bot.api.sendMessage(2000, "later")).resolves.toBeDefined();

    emu.configure({ globalRate: 1, retryAfter: 7 });
    await bot.api.sendMessage(3000, "one");
    expect((await grammyError(bot.api.sendMessage(3001, "two"))).parameters.retry_after).toBe(7);
  });

  it("limits each chat to a small burst by default, independently of other chats", async () => {
    const bot = newBot();
    for (let i = 0; i < 3; i++) await bot.api.sendMessage(77, `m${i}`);
    const err = await grammyError(bot.api.sendMessage(77, "m3"));
    expect(err.error_code).toBe(429);
    expect(err.parameters.retry_after).toBeGreaterThanOrEqual(1);
    await expect(bot.api.sendMessage(78, "other chat")).resolves.toBeDefined();
    expect(emu.sent(77)).toHaveLength(3);

    emu.setRetryAfter("auto");
    emu.setPerChatLimit(0.2, 1); // one message per 5 s
    await bot.api.sendMessage(79, "a");
    expect((await grammyError(bot.api.sendMessage(79, "b"))).parameters.retry_after).toBe(5);
  });
});

describe("chat states", () => {
  it("answers 403 for blocked and deactivated users, 400 for removed chats", async () => {
    const bot = newBot();
    emu.blockChat(50);
    const blocked = await grammyError(bot.api.sendMessage(50, "hi"));
    expect(blocked.error_code).toBe(403);
    expect(blocked.description).toBe("Forbidden: bot was blocked by the user");
    emu.unblockChat(50);
    await expect(bot.api.sendMessage(50, "hi")).resolves.toBeDefined();

    emu.deactivateChat(51);
    expect((await grammyError(bot.api.sendMessage(51, "hi"))).description).toBe("Forbidden: user is deactivated");
    emu.removeChat(52);
    const removed = await grammyError(bot.api.sendMessage(52, "hi"));
    expect(removed.error_code).toBe(400);
    expect(removed.description).toBe("Bad Request: chat not found");

    const upd = emu.myChatMember({ id: 53 }, "kicked");
    expect(upd.my_chat_member).toMatchObject({ chat: { id: 53 }, old_chat_member: { status: "member" }, new_chat_member: { status: "kicked" } });
    expect((await grammyError(bot.api.sendMessage(53, "hi"))).error_code).toBe(403);
    emu.myChatMember({ id: 53 }, "member");
    await expect(bot.api.sendMessage(53, "back")).resolves.toBeDefined();
    expect(emu.count403).toBe(3);
    expect(emu.sent(50)).toHaveLength(1);
  });
});

describe("webhooks", () => {
  let hook: Server;
  let hookUrl = "";
  let hookStatus = 200;
  const received: Array<{ headers: IncomingHttpHeaders; body: Update }> = [];

  beforeAll(async () => {
    hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Update });
        res.writeHead(hookStatus).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
    const addr = hook.address();
    hookUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/hook`;
  });

  afterAll(async () => {
    await new Promise((r) => hook.close(r));
  });

  afterEach(() => {
    received.length = 0;
    hookStatus = 200;
  });

  it("makes getUpdates conflict while a webhook is set and POSTs updates to it", async () => {
    const bot = newBot();
    await bot.api.setWebhook(hookUrl, { secret_token: "s3cret" });
    expect((await bot.api.getWebhookInfo()).url).toBe(hookUrl);

    const conflict = await raw("getUpdates");
    expect(conflict.status).toBe(409);
    expect(conflict.json.description).toBe(
      "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    );
    const viaGrammy = await grammyError(bot.api.getUpdates());
    expect(viaGrammy.error_code).toBe(409);

    const u = emu.sendText(8, "to the hook");
    await emu.webhookIdle();
    hookStatus = 500;
    emu.sendText(8, "fails");
    await emu.webhookIdle();
    expect(received.map((r) => r.body.update_id)).toEqual([u.update_id, u.update_id + 1]);
    expect(received[0]?.headers["x-telegram-bot-api-secret-token"]).toBe("s3cret");
    expect(emu.webhookDeliveries.map((d) => d.status)).toEqual([200, 500]);
    expect((await bot.api.getWebhookInfo()).last_error_message).toMatch(/500/);

    await bot.api.deleteWebhook();
    emu.sendText(8, "polled");
    const polled = await raw<Update[]>("getUpdates");
    expect(polled.json.result?.map((x) => x.message?.text)).toEqual(["polled"]);
  });
});

describe("faults", () => {
  it("fails the next N calls with 5xx without delivering", async () => {
    const bot = newBot();
    emu.failNext(2, { code: 502 });
    const e1 = await grammyError(bot.api.sendMessage(1, "a"));
    expect(e1.error_code).toBe(502);
    expect(e1.description).toBe("Bad Gateway");
    expect((await grammyError(bot.api.sendMessage(1, "b"))).error_code).toBe(502);
    await expect(bot.api.sendMessage(1, "c")).resolves.toMatchObject({ message_id: 1 });
    expect(emu.sent(1).map((s) => s.text)).toEqual(["c"]);

    emu.failNext(1, { code: 500, method: "sendMessage", afterDelivery: true });
    expect((await grammyError(bot.api.sendMessage(2, "lost answer"))).error_code).toBe(500);
    expect(emu.sent(2)).toHaveLength(1);
  });

  it("injects random faults reproducibly, delays, hangs and network loss", async () => {
    const bot = newBot();
    const outcome = async (): Promise<string> => {
      const results: string[] = [];
      for (let i = 0; i < 20; i++) {
        results.push(await bot.api.sendMessage(500 + i, "x").then(() => "ok", (e: GrammyError) => String(e.error_code)));
      }
      return results.join(",");
    };
    emu.setFaultRate(0.5, { seed: 7 });
    const first = await outcome();
    expect(first).toContain("500");
    expect(first).toContain("ok");
    emu.reset();
    emu.setFaultRate(0.5, { seed: 7 });
    expect(await outcome()).toBe(first);
    emu.setFaultRate(0);

    emu.setDelayMs(150);
    const t0 = Date.now();
    await bot.api.getMe();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    emu.setDelayMs(0);

    emu.setHangRate(1);
    await expect(raw("sendMessage", { chat_id: 1, text: "never" }, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    emu.setHangRate(0);
    expect(emu.sent(1)).toEqual([]);

    emu.setUnreachable(true);
    await expect(raw("getMe")).rejects.toThrow();
    emu.setUnreachable(false);
    await expect(raw("getMe")).resolves.toMatchObject({ status: 200 });
  });
});

describe("helpers and lifecycle", () => {
  it("waitFor rejects with a helpful message", async () => {
    await expect(emu.waitFor((e) => e.sent(1).length > 0, 60, "a message to chat 1")).rejects.toThrow(
      /waitFor timed out after 60 ms: a message to chat 1/,
    );
  });

  it("close() releases a pending long poll", async () => {
    const other = createTelegramEmulator({ token: "999:close-test" });
    await other.start();
    const t0 = Date.now();
    const poll = fetch(`${other.apiRoot}/bot${other.token}/getUpdates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ timeout: 30 }),
    }).then(async (r) => (await r.json()) as ApiResponse);
    await new Promise((r) => setTimeout(r, 100));
    await other.close();
    await expect(poll).resolves.toEqual({ ok: true, result: [] });
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
