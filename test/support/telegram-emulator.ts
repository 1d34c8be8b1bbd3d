/**
 * A local Telegram Bot API emulator for tests and benchmarks.
 *
 * A real node:http server on 127.0.0.1 that grammY talks to through
 * `new Bot(emu.token, { client: { apiRoot: emu.apiRoot }, botInfo: emu.botInfo })`.
 * It keeps per-chat message state, validates requests the way Telegram does (same error codes and
 * descriptions), models flood control (global / paid / per-chat), and can inject faults.
 *
 * Hot path (sendMessage) is O(1) apart from parsing the text: per-chat arrays and maps, a ring buffer
 * for the global sliding window and a token bucket per chat.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type {
  BotCommand,
  BotCommandScope,
  Chat,
  ChatMember,
  InlineKeyboardButton,
  LinkPreviewOptions,
  Message,
  MessageEntity,
  PhotoSize,
  ResponseParameters,
  Update,
  User,
  UserFromGetMe,
  WebhookInfo,
} from "grammy/types";
import { parseTelegramHtml, TelegramHtmlError } from "./telegram-html.ts";

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/** A user on the other side of a private chat; the private chat id equals the user id. */
export interface EmulatorUser {
  id: number;
  first_name?: string;
  last_name?: string;
  username?: string;
  language_code?: string;
  is_premium?: true;
}

/** Knobs for flood control and fault injection; all can be changed at runtime via `configure()` or setters. */
export interface PressureOptions {
  /** Sending methods per second for the whole bot, over a sliding 1 s window. Default Infinity. */
  globalRate: number;
  /** Extra messages allowed inside one global window on top of `globalRate`. Default 0. */
  globalBurst: number;
  /** Global limit for messages with `allow_paid_broadcast: true` (separate window). Default 1000. */
  paidRate: number;
  /** Per-chat token bucket refill rate (messages/s). Default 1. Infinity disables the per-chat limit. */
  perChatRate: number;
  /** Per-chat token bucket capacity (messages that may be sent back to back). Default 3. Infinity disables. */
  perChatBurst: number;
  /** `retry_after` seconds in 429 answers; "auto" computes it from the limiter (always >= 1). Default 1. */
  retryAfter: number | "auto";
  /** Probability (0..1) that a request (other than getUpdates) fails with `faultCode`. Default 0. */
  faultRate: number;
  /** Status used by `faultRate`. Default 500. */
  faultCode: number;
  /** Probability (0..1) that a request (other than getUpdates) is never answered (until close). Default 0. */
  hangRate: number;
  /** Delay before every request (other than getUpdates) is processed. Default 0. */
  delayMs: number;
  /** Seed of the PRNG behind `faultRate` / `hangRate`. Default 1. */
  seed: number;
}

export interface TelegramEmulatorOptions extends Partial<PressureOptions> {
  /** Bot token; requests with any other token answer 401. Default "123456:TEST-token". */
  token?: string;
  /** Overrides for the getMe result. */
  botInfo?: Partial<UserFromGetMe>;
  /** Keep a log of every call in `calls` (params included). Default true; turn off for long benchmarks. */
  recordCalls?: boolean;
  /** update_id of the first injected update. Default 1000. */
  firstUpdateId?: number;
  /** Timeout for each webhook POST. Default 10 000 ms. */
  webhookTimeoutMs?: number;
}

/** Reply markup as sent by the bot; typed loosely so tests can read `inline_keyboard` directly. */
export interface ReplyMarkupLike {
  inline_keyboard?: InlineKeyboardButton[][];
  keyboard?: unknown[][];
  remove_keyboard?: boolean;
  force_reply?: boolean;
  [key: string]: unknown;
}

/** One thing the bot did to a chat (send, edit, delete), in order. */
export interface SentEntry {
  method: string;
  chat_id: number;
  message_id: number;
  /** Raw text as the bot sent it (HTML included when parse_mode is HTML). */
  text?: string;
  /** Visible text after entity parsing and trimming (what the user sees). */
  plainText?: string;
  entities?: MessageEntity[];
  caption?: string;
  plainCaption?: string;
  caption_entities?: MessageEntity[];
  /** The `photo` argument (URL or file_id). */
  photo?: string;
  parse_mode?: string;
  reply_markup?: ReplyMarkupLike;
  link_preview_options?: LinkPreviewOptions;
  allow_paid_broadcast?: boolean;
  disable_notification?: boolean;
  /** For copyMessage / forwardMessage. */
  from_chat_id?: number;
  /** Date.now() when the emulator accepted the request. */
  at: number;
}

/**
 * Current state of one message after edits, in the same shape as a {@link SentEntry}: `method` / `at`
 * are those of the last change (send, edit or delete), text / caption / markup the current ones.
 */
export interface MessageView extends SentEntry {
  fromBot: boolean;
  deleted: boolean;
  editCount: number;
  /** The message as the Bot API would return it now. */
  message: Message;
}

export interface CallbackAnswer {
  callback_query_id: string;
  text?: string;
  show_alert?: boolean;
  url?: string;
  cache_time?: number;
  /** Chat / message of the button that was pressed. */
  chat_id?: number;
  message_id?: number;
  at: number;
}

export interface CommandsCall {
  method: "setMyCommands" | "deleteMyCommands";
  commands: BotCommand[];
  scope?: BotCommandScope;
  language_code?: string;
  at: number;
}

export interface CallRecord {
  method: string;
  /** HTTP status of the answer (0 if the socket was destroyed / the request hung). */
  status: number;
  description?: string;
  params: Record<string, unknown>;
  at: number;
  durationMs: number;
}

export interface WebhookDelivery {
  update_id: number;
  url: string;
  /** HTTP status returned by the webhook; 0 on network error/timeout. */
  status: number;
  body?: string;
  error?: string;
  at: number;
}

export interface FaultSpec {
  /** HTTP status / error_code, default 500. */
  code?: number;
  description?: string;
  /** Only requests to this method (case-insensitive) consume the fault. Default: any method but getUpdates. */
  method?: string;
  /** Process the request (deliver the message) but still answer with the error: a "lost response". */
  afterDelivery?: boolean;
}

export interface EmulatorStats {
  calls: number;
  sent: number;
  edits: number;
  deleted: number;
  e400: number;
  e401: number;
  e403: number;
  e404: number;
  e409: number;
  e429: number;
  e5xx: number;
  hung: number;
  dropped: number;
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

type Params = Record<string, unknown>;

class ApiFailure extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: ResponseParameters,
  ) {
    super(description);
  }
}

const bad = (description: string): ApiFailure => new ApiFailure(400, `Bad Request: ${description}`);

const DEFAULT_PRESSURE: PressureOptions = {
  globalRate: Number.POSITIVE_INFINITY,
  globalBurst: 0,
  paidRate: 1000,
  perChatRate: 1,
  perChatBurst: 3,
  retryAfter: 1,
  faultRate: 0,
  faultCode: 500,
  hangRate: 0,
  delayMs: 0,
  seed: 1,
};

const JSON_FIELDS = [
  "reply_markup", "link_preview_options", "allowed_updates", "commands", "scope", "entities",
  "caption_entities", "reply_parameters",
];
const BOOL_FIELDS = [
  "allow_paid_broadcast", "disable_notification", "protect_content", "show_alert", "drop_pending_updates",
  "disable_web_page_preview", "show_caption_above_media", "has_spoiler",
];
const CHAT_ACTIONS = new Set([
  "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice", "upload_document",
  "choose_sticker", "find_location", "record_video_note", "upload_video_note",
]);
const BUTTON_ACTIONS = [
  "url", "callback_data", "web_app", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
  "switch_inline_query_chosen_chat", "copy_text", "callback_game", "pay", "disabled",
];
const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;

const STATUS_TEXT: Record<number, string> = { 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout" };

/** Sliding-window limiter over a ring of timestamps: at most `cap` events in any `windowMs`. */
class SlidingWindow {
  private readonly ring: Float64Array;
  private idx = 0;
  private count = 0;
  readonly cap: number;
  readonly windowMs: number;
  readonly unlimited: boolean;

  constructor(rate: number, burst: number) {
    this.unlimited = !Number.isFinite(rate) || !Number.isFinite(burst);
    // Rates below 1/s keep one slot per 1/rate seconds so 0.5/s really means one message per 2 s.
    this.windowMs = rate >= 1 || rate <= 0 ? 1000 : 1000 / rate;
    this.cap = this.unlimited ? 0 : rate <= 0 ? 0 : Math.max(1, Math.floor((rate * this.windowMs) / 1000)) + Math.max(0, Math.floor(burst));
    this.ring = new Float64Array(this.unlimited ? 0 : this.cap);
  }

  /** Milliseconds until one more event is allowed (0 = allowed now). */
  waitMs(now: number): number {
    if (this.unlimited) return 0;
    if (this.cap === 0) return 1000;
    if (this.count < this.cap) return 0;
    const oldest = this.ring[this.idx] ?? 0; // when full, the next slot to overwrite is the oldest
    return Math.max(0, oldest + this.windowMs - now);
  }

  take(now: number): void {
    if (this.unlimited || this.cap === 0) return;
    this.ring[this.idx] = now;
    this.idx = (this.idx + 1) % this.cap;
    if (this.count < this.cap) this.count++;
  }
}

interface StoredMessage {
  message: Message;
  fromBot: boolean;
  deleted: boolean;
  editCount: number;
  kind: "text" | "photo" | "other";
  /** Visible content + entities, compared for "message is not modified". */
  contentKey: string;
  markupKey: string;
  /** Current raw/visible content in SentEntry form (method/at of the last change). */
  view: SentEntry;
}

type EditableField = "text" | "plainText" | "entities" | "caption" | "plainCaption" | "caption_entities" | "parse_mode" | "reply_markup";

interface ChatState {
  id: number;
  chat: Chat;
  status: "ok" | "blocked" | "deactivated" | "removed";
  nextMessageId: number;
  messages: Map<number, StoredMessage>;
  sent: SentEntry[];
  // Per-chat token bucket.
  tokens: number;
  refilledAt: number;
}

interface Poller {
  res: ServerResponse;
  limit: number;
  params: Params;
  at: number;
  started: number;
  timer: NodeJS.Timeout;
}

interface Formatted {
  text: string;
  entities: MessageEntity[];
}

type Handler = (p: Params) => unknown;

/** Deterministic PRNG so fault patterns are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** JSON with sorted keys, so markups built in a different key order still compare equal. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(",")}}`;
}

/** Telegram trims surrounding whitespace from texts and captions; entities move with the text. */
function trimFormatted(text: string, entities: MessageEntity[]): Formatted {
  const trimmed = text.trim();
  if (trimmed.length === text.length) return { text, entities };
  const start = text.length - text.trimStart().length;
  const end = start + trimmed.length;
  const out: MessageEntity[] = [];
  for (const e of entities) {
    const s = Math.max(e.offset, start);
    const en = Math.min(e.offset + e.length, end);
    if (en > s) out.push({ ...e, offset: s - start, length: en - s });
  }
  return { text: trimmed, entities: out };
}

function isLinkUrl(url: string): boolean {
  if (/^[a-z0-9-]+(\.[a-z0-9-]+)+(\/\S*)?$/i.test(url)) return true; // Telegram accepts bare domains
  try {
    const u = new URL(url);
    return u.protocol === "http:" || u.protocol === "https:" || u.protocol === "tg:";
  } catch {
    return false;
  }
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

// ---------------------------------------------------------------------------------------------
// The emulator
// ---------------------------------------------------------------------------------------------

export class TelegramEmulator {
  readonly token: string;
  readonly botInfo: UserFromGetMe;

  /** answerCallbackQuery calls, in order. */
  readonly callbackAnswers: CallbackAnswer[] = [];
  /** setMyCommands / deleteMyCommands calls, in order. */
  readonly commands: CommandsCall[] = [];
  /** Every API call with its answer status (when `recordCalls` is on). */
  readonly calls: CallRecord[] = [];
  /** Webhook POSTs made by the emulator, in order. */
  readonly webhookDeliveries: WebhookDelivery[] = [];

  private readonly recordCalls: boolean;
  private readonly webhookTimeoutMs: number;
  private readonly initialPressure: PressureOptions;
  private cfg: PressureOptions;
  private globalLimiter: SlidingWindow;
  private paidLimiter: SlidingWindow;
  private rng: () => number;
  private faults: Array<FaultSpec & { remaining: number }> = [];

  private server?: Server;
  private port = 0;
  private closed = false;
  private unreachable = false;
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<ServerResponse>();
  private readonly delayed = new Set<NodeJS.Timeout>();

  private chats = new Map<number, ChatState>();
  private usernames = new Map<string, number>();
  private users = new Map<number, User>();
  private allSent: SentEntry[] = [];
  private commandStore = new Map<string, BotCommand[]>();
  private queries = new Map<string, { chat_id?: number; message_id?: number; answered: boolean }>();
  private queryCounter = 0;
  private fileCounter = 0;

  private updates: Update[] = [];
  private updatesHead = 0;
  private nextUpdateId: number;
  private poller?: Poller;

  private webhook?: { url: string; secret_token?: string; max_connections?: number; allowed_updates?: string[] };
  private lastWebhookError?: { date: number; message: string };
  private webhookChain: Promise<void> = Promise.resolve();
  private webhookAbort = new AbortController();

  private counters: EmulatorStats = TelegramEmulator.zeroStats();
  private readonly botUser: User;
  private readonly handlers = new Map<string, { name: string; fn: Handler }>();

  constructor(options: TelegramEmulatorOptions = {}) {
    this.token = options.token ?? "123456:TEST-token";
    const botId = Number.parseInt(this.token.split(":")[0] ?? "", 10);
    this.botInfo = {
      id: Number.isFinite(botId) ? botId : 123456,
      is_bot: true,
      first_name: "Test Bot",
      username: "test_bot",
      can_join_groups: true,
      can_read_all_group_messages: false,
      supports_inline_queries: false,
      can_connect_to_business: false,
      has_main_web_app: false,
      has_topics_enabled: false,
      allows_users_to_create_topics: false,
      can_manage_bots: false,
      supports_join_request_queries: false,
      ...options.botInfo,
    };
    this.botUser = { id: this.botInfo.id, is_bot: true, first_name: this.botInfo.first_name, username: this.botInfo.username };
    this.recordCalls = options.recordCalls ?? true;
    this.webhookTimeoutMs = options.webhookTimeoutMs ?? 10_000;
    this.nextUpdateId = options.firstUpdateId ?? 1000;
    const pressure: PressureOptions = { ...DEFAULT_PRESSURE };
    for (const key of Object.keys(DEFAULT_PRESSURE) as Array<keyof PressureOptions>) {
      if (options[key] !== undefined) (pressure as unknown as Record<string, unknown>)[key] = options[key];
    }
    this.initialPressure = pressure;
    this.cfg = { ...pressure };
    this.globalLimiter = new SlidingWindow(this.cfg.globalRate, this.cfg.globalBurst);
    this.paidLimiter = new SlidingWindow(this.cfg.paidRate, 0);
    this.rng = mulberry32(this.cfg.seed);
    this.registerHandlers();
  }

  private static zeroStats(): EmulatorStats {
    return { calls: 0, sent: 0, edits: 0, deleted: 0, e400: 0, e401: 0, e403: 0, e404: 0, e409: 0, e429: 0, e5xx: 0, hung: 0, dropped: 0 };
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => this.onRequest(req, res));
    // grammY keeps sockets alive indefinitely; a server-side idle close racing a reuse shows up as
    // ECONNRESET in tests, so keep idle sockets for long and close them explicitly in close().
    server.keepAliveTimeout = 10 * 60_000;
    server.headersTimeout = 10 * 60_000 + 1000;
    server.on("connection", (socket: Socket) => {
      if (this.unreachable || this.closed) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    this.port = typeof addr === "object" && addr ? addr.port : 0;
    this.server = server;
  }

  /** Stops the server; pending long polls get an empty result, hung requests are dropped. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server || this.closed) return;
    this.closed = true;
    this.releasePoller();
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    this.webhookAbort.abort();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // Give just-written answers (the released long poll) a moment to flush before cutting sockets.
      setTimeout(() => {
        server.closeAllConnections();
        for (const s of this.sockets) s.destroy();
      }, 20).unref();
    });
    await this.webhookChain.catch(() => undefined);
  }

  get apiRoot(): string {
    if (!this.server) throw new Error("TelegramEmulator: call start() before reading apiRoot");
    return `http://127.0.0.1:${this.port}`;
  }

  /** Clears all state (chats, logs, counters, updates, webhook, faults) and restores construction options. */
  reset(): void {
    this.chats.clear();
    this.usernames.clear();
    this.users.clear();
    this.allSent = [];
    this.callbackAnswers.length = 0;
    this.commands.length = 0;
    this.calls.length = 0;
    this.webhookDeliveries.length = 0;
    this.commandStore.clear();
    this.queries.clear();
    // update ids keep increasing: a running bot's offset must not skip new updates.
    this.updates = [];
    this.updatesHead = 0;
    this.webhook = undefined;
    this.lastWebhookError = undefined;
    this.faults = [];
    this.counters = TelegramEmulator.zeroStats();
    this.unreachable = false;
    this.configure(this.initialPressure);
  }

  // -------------------------------------------------------------------------------------------
  // Pressure configuration
  // -------------------------------------------------------------------------------------------

  /** Changes flood-control / fault knobs; limiters are rebuilt (their windows start empty). */
  configure(options: Partial<PressureOptions>): void {
    for (const [key, value] of Object.entries(options)) {
      if (value !== undefined && key in DEFAULT_PRESSURE) (this.cfg as unknown as Record<string, unknown>)[key] = value;
    }
    if (options.globalRate !== undefined || options.globalBurst !== undefined) {
      this.globalLimiter = new SlidingWindow(this.cfg.globalRate, this.cfg.globalBurst);
    }
    if (options.paidRate !== undefined) this.paidLimiter = new SlidingWindow(this.cfg.paidRate, 0);
    if (options.seed !== undefined) this.rng = mulberry32(this.cfg.seed);
    if (options.perChatBurst !== undefined || options.perChatRate !== undefined) {
      const now = performance.now();
      for (const c of this.chats.values()) {
        c.tokens = this.cfg.perChatBurst;
        c.refilledAt = now;
      }
    }
  }

  get pressure(): Readonly<PressureOptions> {
    return { ...this.cfg };
  }

  setGlobalRate(rate: number, burst = this.cfg.globalBurst): void {
    this.configure({ globalRate: rate, globalBurst: burst });
  }

  setPaidRate(rate: number): void {
    this.configure({ paidRate: rate });
  }

  /** Per-chat token bucket: `burst` back-to-back messages, refilled at `rate`/s. Infinity disables. */
  setPerChatLimit(rate: number, burst = this.cfg.perChatBurst): void {
    this.configure({ perChatRate: rate, perChatBurst: burst });
  }

  setRetryAfter(seconds: number | "auto"): void {
    this.configure({ retryAfter: seconds });
  }

  setFaultRate(rate: number, options: { code?: number; seed?: number } = {}): void {
    this.configure({ faultRate: rate, faultCode: options.code ?? this.cfg.faultCode, seed: options.seed });
  }

  setHangRate(rate: number): void {
    this.configure({ hangRate: rate });
  }

  setDelayMs(ms: number): void {
    this.configure({ delayMs: ms });
  }

  /** true: every incoming connection is destroyed immediately, and open ones are cut now (network down). */
  setUnreachable(value: boolean): void {
    this.unreachable = value;
    if (!value) return;
    if (this.poller) {
      clearTimeout(this.poller.timer);
      this.poller = undefined;
    }
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    for (const s of this.sockets) s.destroy();
  }

  /** The next `n` matching requests answer with a 5xx error (default 500 "Internal Server Error"). */
  failNext(n: number, spec: FaultSpec = {}): void {
    if (n > 0) this.faults.push({ ...spec, remaining: n });
  }

  blockChat(chatId: number): void {
    this.ensureChat(chatId).status = "blocked";
  }

  unblockChat(chatId: number): void {
    this.ensureChat(chatId).status = "ok";
  }

  deactivateChat(chatId: number): void {
    this.ensureChat(chatId).status = "deactivated";
  }

  removeChat(chatId: number): void {
    this.ensureChat(chatId).status = "removed";
  }

  /** Registers a group / supergroup / channel (optionally with a @username usable as chat_id). */
  addChat(chat: { id: number; type: "group" | "supergroup" | "channel"; title?: string; username?: string }): void {
    const state = this.ensureChat(chat.id);
    const title = chat.title ?? `Chat ${chat.id}`;
    state.chat = chat.username ? { id: chat.id, type: chat.type, title, username: chat.username } as Chat : { id: chat.id, type: chat.type, title } as Chat;
    if (chat.username) this.usernames.set(chat.username.toLowerCase(), chat.id);
  }

  // -------------------------------------------------------------------------------------------
  // Inspection
  // -------------------------------------------------------------------------------------------

  /** Everything the bot sent / edited / deleted, in order (one chat, or all chats). */
  sent(chatId?: number | string): SentEntry[] {
    if (chatId === undefined) return this.allSent.slice();
    return this.chats.get(Number(chatId))?.sent.slice() ?? [];
  }

  /** Last send/edit entry for a chat. */
  lastSent(chatId: number | string): SentEntry | undefined {
    const list = this.chats.get(Number(chatId))?.sent;
    return list?.[list.length - 1];
  }

  /** Current state of a message after edits/deletion. */
  message(chatId: number | string, messageId: number): MessageView | undefined {
    const chat = this.chats.get(Number(chatId));
    const m = chat?.messages.get(messageId);
    if (!chat || !m) return undefined;
    return { ...m.view, fromBot: m.fromBot, deleted: m.deleted, editCount: m.editCount, message: m.message };
  }

  /** Commands stored by setMyCommands for this scope + language (exact match, like getMyCommands). */
  getCommands(scope: BotCommandScope = { type: "default" }, languageCode = ""): BotCommand[] {
    return this.commandStore.get(this.commandKey(scope, languageCode))?.slice() ?? [];
  }

  /** Chat status as set by block/deactivate/remove or my_chat_member updates. */
  chatStatus(chatId: number): ChatState["status"] | undefined {
    return this.chats.get(chatId)?.status;
  }

  /** True while a getUpdates long poll is parked waiting for updates. */
  get isPolling(): boolean {
    return this.poller !== undefined;
  }

  get webhookUrl(): string | undefined {
    return this.webhook?.url;
  }

  /** Updates not yet confirmed through getUpdates' offset. */
  get pendingUpdates(): Update[] {
    return this.updates.slice(this.updatesHead);
  }

  get stats(): EmulatorStats {
    return { ...this.counters };
  }

  /** Messages delivered by sending methods (sendMessage, sendPhoto, copyMessage, forwardMessage). */
  get countSent(): number {
    return this.counters.sent;
  }

  get count429(): number {
    return this.counters.e429;
  }

  get count403(): number {
    return this.counters.e403;
  }

  get count400(): number {
    return this.counters.e400;
  }

  get count5xx(): number {
    return this.counters.e5xx;
  }

  get countEdits(): number {
    return this.counters.edits;
  }

  get countCalls(): number {
    return this.counters.calls;
  }

  /**
   * Resolves with the predicate's first truthy result, polling every 15 ms. A predicate that throws
   * (e.g. an `expect`) counts as "not yet"; its last error is included in the timeout message.
   */
  async waitFor<T>(
    predicate: (emu: this) => T,
    timeoutMs = 5000,
    label?: string,
  ): Promise<Exclude<T, false | null | undefined | 0 | "">> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = predicate(this);
        if (value) return value as Exclude<T, false | null | undefined | 0 | "">;
        lastError = undefined;
      } catch (err) {
        lastError = err;
      }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 15));
    }
    const what = label ?? predicate.toString().replace(/\s+/g, " ").slice(0, 200);
    const recent = this.calls
      .slice(-5)
      .map((c) => `${c.method}→${c.status}${c.description ? ` (${c.description})` : ""}`)
      .join(", ");
    const reason = lastError instanceof Error ? `; last error: ${lastError.message}` : "";
    throw new Error(
      `waitFor timed out after ${timeoutMs} ms: ${what}${reason}; state: ${this.allSent.length} sent entries, ` +
        `${this.counters.calls} calls, ${this.pendingUpdates.length} pending updates; recent calls: [${recent}]`,
    );
  }

  /** Resolves when all webhook POSTs queued so far have completed. */
  async webhookIdle(): Promise<void> {
    await this.webhookChain;
  }

  // -------------------------------------------------------------------------------------------
  // Injecting user updates
  // -------------------------------------------------------------------------------------------

  /** A text message from `user` in their private chat; "/cmd[@bot]" gets a bot_command entity. */
  sendText(user: EmulatorUser | number, text: string): Update {
    const from = this.userOf(user);
    const fields: Partial<Message> = { text };
    const m = /^\/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,32})?/.exec(text);
    if (m) fields.entities = [{ type: "bot_command", offset: 0, length: m[0].length }];
    return this.enqueue({ message: this.userMessage(from, fields) });
  }

  /** A formatted text message (bold, links…) from `user`, as a Telegram client sends it. */
  sendFormatted(user: EmulatorUser | number, text: string, entities: MessageEntity[]): Update {
    return this.enqueue({ message: this.userMessage(this.userOf(user), { text, entities }) });
  }

  /** "/command payload" from `user`. */
  sendCommand(user: EmulatorUser | number, command: string, payload?: string): Update {
    const name = command.startsWith("/") ? command.slice(1) : command;
    return this.sendText(user, payload ? `/${name} ${payload}` : `/${name}`);
  }

  /**
   * `user` presses an inline button on a bot message in their private chat. Throws if the message is
   * unknown or (unless `force`) carries no button with this callback_data.
   */
  pressButton(
    user: EmulatorUser | number,
    messageOrId: number | { message_id: number },
    callbackData: string,
    options: { force?: boolean } = {},
  ): Update {
    const from = this.userOf(user);
    const messageId = typeof messageOrId === "number" ? messageOrId : messageOrId.message_id;
    const stored = this.chats.get(from.id)?.messages.get(messageId);
    if (!stored || stored.deleted || !stored.fromBot) {
      throw new Error(`pressButton: no bot message ${messageId} in chat ${from.id}`);
    }
    if (!options.force) {
      const buttons = stored.view.reply_markup?.inline_keyboard?.flat() ?? [];
      const found = buttons.some((b) => "callback_data" in b && b.callback_data === callbackData);
      if (!found) {
        const have = buttons.map((b) => ("callback_data" in b ? b.callback_data : `(${b.text})`)).join(", ");
        throw new Error(`pressButton: message ${messageId} has no button with callback_data "${callbackData}" (has: ${have || "none"})`);
      }
    }
    const id = `${this.botInfo.id}${String(++this.queryCounter).padStart(8, "0")}`;
    this.queries.set(id, { chat_id: from.id, message_id: messageId, answered: false });
    return this.enqueue({
      callback_query: { id, from, message: stored.message, chat_instance: `ci${from.id}`, data: callbackData },
    });
  }

  /** A photo message from `user` (synthetic file ids). */
  sendPhotoFromUser(user: EmulatorUser | number, opts: { caption?: string; caption_entities?: MessageEntity[] } = {}): Update {
    const from = this.userOf(user);
    const fields: Partial<Message> = { photo: this.photoSizes(undefined) };
    if (opts.caption !== undefined) fields.caption = opts.caption;
    if (opts.caption_entities !== undefined) fields.caption_entities = opts.caption_entities;
    return this.enqueue({ message: this.userMessage(from, fields) });
  }

  /** The user blocked ("kicked") or restarted ("member") the bot; also updates the chat's status. */
  myChatMember(user: EmulatorUser | number, status: "kicked" | "member"): Update {
    const from = this.userOf(user);
    const chat = this.ensureChat(from.id);
    const kicked: ChatMember = { status: "kicked", user: this.botUser, until_date: 0 };
    const member: ChatMember = { status: "member", user: this.botUser };
    chat.status = status === "kicked" ? "blocked" : "ok";
    return this.enqueue({
      my_chat_member: {
        chat: chat.chat,
        from,
        date: unixNow(),
        old_chat_member: status === "kicked" ? member : kicked,
        new_chat_member: status === "kicked" ? kicked : member,
      },
    });
  }

  /** Any update; update_id is assigned unless given. */
  pushUpdate(partial: Omit<Update, "update_id"> & { update_id?: number }): Update {
    return this.enqueue(partial);
  }

  // -------------------------------------------------------------------------------------------
  // HTTP plumbing
  // -------------------------------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.unreachable) {
      req.socket.destroy();
      return;
    }
    const started = performance.now();
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", () => undefined);
    req.on("end", () => {
      if (this.unreachable) {
        req.socket.destroy();
        return;
      }
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      this.dispatch(req, res, body, started);
    });
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, body: Buffer, started: number): void {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q < 0 ? url : url.slice(0, q);
    const match = /^\/bot([^/]*)\/([^/]*)$/.exec(path);
    if (!match) {
      this.fail(res, "", {}, started, new ApiFailure(404, "Not Found"));
      return;
    }
    const methodName = match[2] ?? "";
    if (decodeURIComponent(match[1] ?? "") !== this.token) {
      this.fail(res, methodName, {}, started, new ApiFailure(401, "Unauthorized"));
      return;
    }
    // Telegram matches method names case-insensitively.
    const handler = this.handlers.get(methodName.toLowerCase());
    if (!handler) {
      this.fail(res, methodName, {}, started, new ApiFailure(404, "Not Found"));
      return;
    }
    let params: Params;
    try {
      params = this.parseParams(req, body, q < 0 ? "" : url.slice(q + 1));
    } catch (err) {
      this.fail(res, handler.name, {}, started, err);
      return;
    }
    const method = handler.name;

    const fault = this.takeFault(method);
    if (fault && !fault.afterDelivery) {
      this.fail(res, method, params, started, this.faultFailure(fault.code, fault.description));
      return;
    }
    if (method === "getUpdates") {
      this.run(res, method, params, started, handler.fn, fault);
      return;
    }
    if (!fault && this.cfg.faultRate > 0 && this.rng() < this.cfg.faultRate) {
      this.fail(res, method, params, started, this.faultFailure(this.cfg.faultCode));
      return;
    }
    if (this.cfg.hangRate > 0 && this.rng() < this.cfg.hangRate) {
      // Never answered: the request is not processed either, so nothing gets delivered.
      this.counters.hung++;
      this.hung.add(res);
      res.on("close", () => this.hung.delete(res));
      this.record(method, params, 0, started, "hung");
      return;
    }
    if (this.cfg.delayMs > 0) {
      const timer = setTimeout(() => {
        this.delayed.delete(timer);
        this.run(res, method, params, started, handler.fn, fault);
      }, this.cfg.delayMs);
      this.delayed.add(timer);
      return;
    }
    this.run(res, method, params, started, handler.fn, fault);
  }

  private run(res: ServerResponse, method: string, params: Params, started: number, fn: Handler, fault?: FaultSpec): void {
    if (res.destroyed) return;
    if (method === "getUpdates") {
      try {
        this.getUpdates(params, res, started);
      } catch (err) {
        this.fail(res, method, params, started, err);
      }
      return;
    }
    let result: unknown;
    try {
      result = fn(params);
    } catch (err) {
      this.fail(res, method, params, started, err);
      return;
    }
    if (fault) {
      // afterDelivery fault: the work happened, only the answer is lost.
      this.fail(res, method, params, started, this.faultFailure(fault.code, fault.description));
      return;
    }
    this.send(res, 200, { ok: true, result }, method, params, started);
  }

  private fail(res: ServerResponse, method: string, params: Params, started: number, err: unknown): void {
    let failure: ApiFailure;
    if (err instanceof ApiFailure) failure = err;
    else {
      console.error("TelegramEmulator: handler crashed", err);
      failure = new ApiFailure(500, `Internal Server Error: ${err instanceof Error ? err.message : String(err)}`);
    }
    const body: Record<string, unknown> = { ok: false, error_code: failure.code, description: failure.description };
    if (failure.parameters) body.parameters = failure.parameters;
    this.send(res, failure.code, body, method, params, started, failure.description);
  }

  private send(
    res: ServerResponse,
    status: number,
    body: unknown,
    method: string,
    params: Params,
    started: number,
    description?: string,
  ): void {
    this.counters.calls++;
    if (status === 400) this.counters.e400++;
    else if (status === 401) this.counters.e401++;
    else if (status === 403) this.counters.e403++;
    else if (status === 404) this.counters.e404++;
    else if (status === 409) this.counters.e409++;
    else if (status === 429) this.counters.e429++;
    else if (status >= 500) this.counters.e5xx++;
    if (res.destroyed || res.writableEnded) {
      this.counters.dropped++;
      this.record(method, params, 0, started, description ?? "client went away");
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
    this.record(method, params, status, started, description);
  }

  private record(method: string, params: Params, status: number, started: number, description?: string): void {
    if (!this.recordCalls) return;
    const rec: CallRecord = { method, status, params, at: Date.now(), durationMs: performance.now() - started };
    if (description !== undefined) rec.description = description;
    this.calls.push(rec);
  }

  private takeFault(method: string): FaultSpec | undefined {
    if (this.faults.length === 0) return undefined;
    const lower = method.toLowerCase();
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i]!;
      const matches = f.method === undefined ? method !== "getUpdates" : f.method.toLowerCase() === lower;
      if (!matches) continue;
      if (--f.remaining <= 0) this.faults.splice(i, 1);
      return f;
    }
    return undefined;
  }

  private faultFailure(code = 500, description?: string): ApiFailure {
    return new ApiFailure(code, description ?? STATUS_TEXT[code] ?? "Internal Server Error");
  }

  private parseParams(req: IncomingMessage, body: Buffer, query: string): Params {
    const params: Params = {};
    if (query) for (const [k, v] of new URLSearchParams(query)) params[k] = v;
    if (body.length > 0) {
      const type = (req.headers["content-type"] ?? "").toLowerCase();
      if (type.startsWith("multipart/")) throw bad("multipart not supported by emulator");
      if (type.startsWith("application/x-www-form-urlencoded")) {
        for (const [k, v] of new URLSearchParams(body.toString("utf8"))) params[k] = v;
      } else {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString("utf8"));
        } catch {
          throw bad("can't parse JSON object");
        }
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw bad("can't parse JSON object");
        Object.assign(params, parsed);
      }
    }
    // Form / query values arrive as strings; Telegram parses JSON-valued and boolean fields itself.
    for (const key of JSON_FIELDS) {
      const v = params[key];
      if (typeof v === "string" && v !== "") {
        try {
          params[key] = JSON.parse(v);
        } catch {
          // left as a string: the method's validation reports it
        }
      }
    }
    for (const key of BOOL_FIELDS) {
      const v = params[key];
      if (typeof v === "string") params[key] = v === "true" || v === "1";
    }
    return params;
  }

  // -------------------------------------------------------------------------------------------
  // Helpers shared by methods
  // -------------------------------------------------------------------------------------------

  private ensureChat(id: number): ChatState {
    let state = this.chats.get(id);
    if (!state) {
      let chat: Chat;
      if (id > 0) {
        const user = this.users.get(id);
        chat = { id, type: "private", first_name: user?.first_name ?? `User${id}` };
        if (user?.username) chat.username = user.username;
      } else if (id <= -1_000_000_000_000) {
        chat = { id, type: "supergroup", title: `Chat ${id}` };
      } else {
        chat = { id, type: "group", title: `Chat ${id}` };
      }
      state = {
        id,
        chat,
        status: "ok",
        nextMessageId: 1,
        messages: new Map(),
        sent: [],
        tokens: this.cfg.perChatBurst,
        refilledAt: performance.now(),
      };
      this.chats.set(id, state);
    }
    return state;
  }

  private chatIdOf(p: Params, key = "chat_id"): number {
    const v = p[key];
    if (v === undefined || v === null || v === "") throw bad(`${key} is empty`);
    if (typeof v === "number" && Number.isInteger(v)) return v;
    if (typeof v === "string") {
      if (/^-?\d+$/.test(v)) return Number(v);
      if (v.startsWith("@")) {
        const id = this.usernames.get(v.slice(1).toLowerCase());
        if (id !== undefined) return id;
      }
    }
    throw bad("chat not found");
  }

  /** Resolves chat_id to a chat the bot can see (auto-creating unknown ones). */
  private chatFor(p: Params, key = "chat_id"): ChatState {
    const chat = this.ensureChat(this.chatIdOf(p, key));
    if (chat.status === "removed") throw bad("chat not found");
    return chat;
  }

  /** 403s for chats the bot can't write to. */
  private assertWritable(chat: ChatState): void {
    if (chat.status === "blocked") throw new ApiFailure(403, "Forbidden: bot was blocked by the user");
    if (chat.status === "deactivated") throw new ApiFailure(403, "Forbidden: user is deactivated");
  }

  private int(p: Params, key: string): number | undefined {
    const v = p[key];
    if (v === undefined || v === null || v === "") return undefined;
    const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+$/.test(v.trim()) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n)) throw bad(`field "${key}" must be of type Integer`);
    return n;
  }

  private str(p: Params, key: string): string | undefined {
    const v = p[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
  }

  /** Applies parse_mode / entities and Telegram's trimming; throws the Bot API's parse errors. */
  private format(raw: string, parseMode: unknown, entities: unknown): Formatted {
    const mode = typeof parseMode === "string" ? parseMode.toLowerCase() : "";
    let out: Formatted;
    if (mode === "html") {
      try {
        const parsed = parseTelegramHtml(raw);
        out = { text: parsed.text, entities: parsed.entities as MessageEntity[] };
      } catch (err) {
        if (err instanceof TelegramHtmlError) throw bad(`can't parse entities: ${err.message}`);
        throw err;
      }
    } else if (mode === "" || mode === "markdown" || mode === "markdownv2") {
      // Markdown is not modelled: the text is taken literally.
      out = { text: raw, entities: Array.isArray(entities) ? (entities as MessageEntity[]) : [] };
    } else {
      throw bad("unsupported parse_mode");
    }
    return trimFormatted(out.text, out.entities);
  }

  private formatText(p: Params): Formatted {
    const raw = this.str(p, "text") ?? "";
    const f = this.format(raw, p.parse_mode, p.entities);
    if (f.text.length === 0) throw bad("message text is empty");
    if (f.text.length > MAX_TEXT) throw bad("message is too long");
    return f;
  }

  private formatCaption(p: Params): Formatted | undefined {
    const raw = this.str(p, "caption");
    if (raw === undefined) return undefined;
    const f = this.format(raw, p.parse_mode, p.caption_entities);
    if (f.text.length > MAX_CAPTION) throw bad("message caption is too long");
    return f.text.length === 0 ? undefined : f;
  }

  private markup(p: Params): ReplyMarkupLike | undefined {
    const m = p.reply_markup;
    if (m === undefined || m === null || m === "") return undefined;
    if (typeof m !== "object" || Array.isArray(m)) throw bad("can't parse reply keyboard markup JSON object");
    const mk = m as ReplyMarkupLike;
    if ("inline_keyboard" in mk) {
      const rows: unknown = mk.inline_keyboard;
      if (!Array.isArray(rows) || rows.some((r) => !Array.isArray(r))) {
        throw bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays");
      }
      for (const row of rows as unknown[][]) for (const button of row) this.validateButton(button);
    }
    return mk;
  }

  private validateButton(button: unknown): void {
    if (button === null || typeof button !== "object" || Array.isArray(button)) {
      throw bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object");
    }
    const b = button as Record<string, unknown>;
    if (typeof b.text !== "string") throw bad("can't parse inline keyboard button: Field \"text\" must be of type String");
    if (b.callback_data !== undefined) {
      const data = b.callback_data;
      if (typeof data !== "string") throw bad("can't parse inline keyboard button: Field \"callback_data\" must be of type String");
      const bytes = Buffer.byteLength(data, "utf8");
      if (bytes < 1 || bytes > 64) throw bad("BUTTON_DATA_INVALID");
    } else if (b.url !== undefined) {
      if (typeof b.url !== "string" || !isLinkUrl(b.url)) {
        throw bad(`inline keyboard button URL '${String(b.url)}' is invalid: Wrong HTTP URL`);
      }
    } else if (!BUTTON_ACTIONS.some((k) => b[k] !== undefined)) {
      throw bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard");
    }
  }

  /** Flood control for sending methods; throws 429 without consuming anything. */
  private admit(chat: ChatState, paid: boolean): void {
    const now = performance.now();
    const window = paid ? this.paidLimiter : this.globalLimiter;
    const globalWait = window.waitMs(now);
    let chatWait = 0;
    const { perChatRate: rate, perChatBurst: burst } = this.cfg;
    const chatLimited = Number.isFinite(rate) && Number.isFinite(burst);
    if (chatLimited) {
      chat.tokens = Math.min(burst, chat.tokens + ((now - chat.refilledAt) * rate) / 1000);
      chat.refilledAt = now;
      if (chat.tokens < 1) chatWait = rate > 0 ? ((1 - chat.tokens) * 1000) / rate : 1000;
    }
    if (globalWait > 0 || chatWait > 0) {
      const retry = this.cfg.retryAfter === "auto"
        ? Math.max(1, Math.ceil(Math.max(globalWait, chatWait) / 1000))
        : Math.max(1, Math.ceil(this.cfg.retryAfter));
      throw new ApiFailure(429, `Too Many Requests: retry after ${retry}`, { retry_after: retry });
    }
    window.take(now);
    if (chatLimited) chat.tokens -= 1;
  }

  private logEntry(chat: ChatState, entry: SentEntry): void {
    chat.sent.push(entry);
    this.allSent.push(entry);
  }

  /** Copies the optional request fields that sent() reports. */
  private entryFor(method: string, chat: ChatState, messageId: number, p: Params, markup: ReplyMarkupLike | undefined): SentEntry {
    const e: SentEntry = { method, chat_id: chat.id, message_id: messageId, at: Date.now() };
    const pm = this.str(p, "parse_mode");
    if (pm) e.parse_mode = pm;
    if (markup) e.reply_markup = markup;
    if (p.link_preview_options && typeof p.link_preview_options === "object") {
      e.link_preview_options = p.link_preview_options as LinkPreviewOptions;
    }
    if (p.allow_paid_broadcast === true) e.allow_paid_broadcast = true;
    if (p.disable_notification === true) e.disable_notification = true;
    return e;
  }

  private photoSizes(fileId: string | undefined): PhotoSize[] {
    const n = ++this.fileCounter;
    return [
      { file_id: `AgACAgEmuPhoto${n}s`, file_unique_id: `AQADemu${n}s`, width: 90, height: 60, file_size: 1200 },
      { file_id: fileId ?? `AgACAgEmuPhoto${n}x`, file_unique_id: `AQADemu${n}x`, width: 1280, height: 853, file_size: 98_000 },
    ];
  }

  private userOf(u: EmulatorUser | number): User {
    const eu: EmulatorUser = typeof u === "number" ? { id: u } : u;
    const user: User = { id: eu.id, is_bot: false, first_name: eu.first_name ?? `User${eu.id}` };
    if (eu.last_name !== undefined) user.last_name = eu.last_name;
    if (eu.username !== undefined) user.username = eu.username;
    if (eu.language_code !== undefined) user.language_code = eu.language_code;
    if (eu.is_premium) user.is_premium = true;
    this.users.set(user.id, user);
    return user;
  }

  private userMessage(from: User, fields: Partial<Message>): Message & Update.NonChannel {
    const chat = this.ensureChat(from.id);
    if (chat.chat.type !== "private") throw new Error(`chat ${from.id} is not a private chat`);
    const message: Message & Update.NonChannel = {
      ...fields,
      message_id: chat.nextMessageId++,
      from,
      chat: chat.chat,
      date: unixNow(),
    };
    chat.messages.set(message.message_id, {
      message,
      fromBot: false,
      deleted: false,
      editCount: 0,
      kind: fields.text !== undefined ? "text" : fields.photo ? "photo" : "other",
      contentKey: "",
      markupKey: "",
      view: {
        method: "userMessage",
        chat_id: chat.id,
        message_id: message.message_id,
        ...(fields.text !== undefined ? { text: fields.text, plainText: fields.text } : {}),
        ...(fields.caption !== undefined ? { caption: fields.caption, plainCaption: fields.caption } : {}),
        at: Date.now(),
      },
    });
    return message;
  }

  private enqueue(partial: Omit<Update, "update_id"> & { update_id?: number }): Update {
    const update: Update = { ...partial, update_id: partial.update_id ?? this.nextUpdateId++ };
    if (update.update_id >= this.nextUpdateId) this.nextUpdateId = update.update_id + 1;
    if (this.webhook) {
      this.deliverWebhook(update);
    } else {
      this.updates.push(update);
      if (this.poller) this.releasePoller();
    }
    return update;
  }

  private deliverWebhook(update: Update): void {
    const hook = this.webhook;
    if (!hook) return;
    const signal = this.webhookAbort.signal;
    this.webhookChain = this.webhookChain.then(async () => {
      const rec: WebhookDelivery = { update_id: update.update_id, url: hook.url, status: 0, at: Date.now() };
      try {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (hook.secret_token) headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token;
        const res = await fetch(hook.url, {
          method: "POST",
          headers,
          body: JSON.stringify(update),
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.webhookTimeoutMs)]),
        });
        rec.status = res.status;
        rec.body = await res.text();
        if (!res.ok) this.lastWebhookError = { date: unixNow(), message: `Wrong response from the webhook: ${res.status} ${res.statusText}` };
      } catch (err) {
        rec.error = err instanceof Error ? err.message : String(err);
        this.lastWebhookError = { date: unixNow(), message: `Connection failed: ${rec.error}` };
      }
      this.webhookDeliveries.push(rec);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Long polling
  // -------------------------------------------------------------------------------------------

  private getUpdates(p: Params, res: ServerResponse, started: number): void {
    if (this.webhook) {
      throw new ApiFailure(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
    }
    const offset = this.int(p, "offset");
    const limit = Math.min(100, Math.max(1, this.int(p, "limit") ?? 100));
    const timeout = Math.max(0, this.int(p, "timeout") ?? 0);
    if (offset !== undefined) this.confirm(offset);

    if (this.poller) {
      // Telegram allows one getUpdates at a time; the newer request wins.
      const old = this.poller;
      this.poller = undefined;
      clearTimeout(old.timer);
      this.fail(old.res, "getUpdates", old.params, old.started,
        new ApiFailure(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"));
    }
    const ready = this.takeUpdates(limit);
    if (ready.length > 0 || timeout === 0 || this.closed) {
      this.send(res, 200, { ok: true, result: ready }, "getUpdates", p, started);
      return;
    }
    const poller: Poller = {
      res,
      limit,
      params: p,
      at: Date.now(),
      started,
      timer: setTimeout(() => this.releasePoller(), timeout * 1000),
    };
    this.poller = poller;
    // A client that aborts (bot.stop()) must not hold the slot or receive later updates.
    res.on("close", () => {
      if (this.poller === poller) {
        clearTimeout(poller.timer);
        this.poller = undefined;
      }
    });
  }

  private releasePoller(): void {
    const poller = this.poller;
    if (!poller) return;
    this.poller = undefined;
    clearTimeout(poller.timer);
    this.send(poller.res, 200, { ok: true, result: this.takeUpdates(poller.limit) }, "getUpdates", poller.params, poller.started);
  }

  private takeUpdates(limit: number): Update[] {
    return this.updates.slice(this.updatesHead, this.updatesHead + limit);
  }

  /** offset confirms every update with a smaller id; a negative offset keeps the last |offset| updates. */
  private confirm(offset: number): void {
    if (offset < 0) {
      const pending = this.updates.length - this.updatesHead;
      this.updatesHead += Math.max(0, pending + offset);
    } else {
      while (this.updatesHead < this.updates.length && this.updates[this.updatesHead]!.update_id < offset) this.updatesHead++;
    }
    if (this.updatesHead > 1024 && this.updatesHead * 2 > this.updates.length) {
      this.updates = this.updates.slice(this.updatesHead);
      this.updatesHead = 0;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Bot API methods
  // -------------------------------------------------------------------------------------------

  private registerHandlers(): void {
    const add = (name: string, fn: Handler): void => {
      this.handlers.set(name.toLowerCase(), { name, fn });
    };
    add("getMe", () => this.botInfo);
    add("getUpdates", () => undefined); // handled in run(): it may hold the request
    add("sendMessage", (p) => this.sendMessage(p));
    add("sendPhoto", (p) => this.sendPhoto(p));
    add("copyMessage", (p) => this.copyOrForward(p, "copyMessage"));
    add("forwardMessage", (p) => this.copyOrForward(p, "forwardMessage"));
    add("editMessageText", (p) => this.editMessageText(p));
    add("editMessageCaption", (p) => this.editMessageCaption(p));
    add("editMessageReplyMarkup", (p) => this.editMessageReplyMarkup(p));
    add("deleteMessage", (p) => this.deleteMessage(p));
    add("answerCallbackQuery", (p) => this.answerCallbackQuery(p));
    add("sendChatAction", (p) => this.sendChatAction(p));
    add("setMyCommands", (p) => this.setMyCommands(p));
    add("getMyCommands", (p) => this.getCommands(this.scopeOf(p), this.str(p, "language_code") ?? ""));
    add("deleteMyCommands", (p) => this.deleteMyCommands(p));
    add("setWebhook", (p) => this.setWebhook(p));
    add("deleteWebhook", (p) => this.deleteWebhook(p));
    add("getWebhookInfo", () => this.getWebhookInfo());
  }

  private sendMessage(p: Params): Message {
    const chat = this.chatFor(p);
    const f = this.formatText(p);
    const markup = this.markup(p);
    this.assertWritable(chat);
    this.admit(chat, p.allow_paid_broadcast === true);

    const message_id = chat.nextMessageId++;
    const message: Message = { message_id, from: this.botUser, chat: chat.chat, date: unixNow(), text: f.text };
    if (f.entities.length > 0) message.entities = f.entities;
    if (markup?.inline_keyboard) message.reply_markup = { inline_keyboard: markup.inline_keyboard };
    if (p.link_preview_options && typeof p.link_preview_options === "object") {
      message.link_preview_options = p.link_preview_options as LinkPreviewOptions;
    }
    const raw = this.str(p, "text") ?? "";
    const entry = this.entryFor("sendMessage", chat, message_id, p, markup);
    entry.text = raw;
    entry.plainText = f.text;
    if (f.entities.length > 0) entry.entities = f.entities;
    chat.messages.set(message_id, {
      message,
      fromBot: true,
      deleted: false,
      editCount: 0,
      kind: "text",
      contentKey: this.contentKey(f),
      markupKey: this.markupKey(markup),
      view: { ...entry },
    });
    this.logEntry(chat, entry);
    this.counters.sent++;
    return message;
  }

  private sendPhoto(p: Params): Message {
    const chat = this.chatFor(p);
    const photo = p.photo;
    if (photo === undefined || photo === null || photo === "") throw bad("there is no photo in the request");
    if (typeof photo !== "string") throw bad("wrong file identifier/HTTP URL specified");
    const isUrl = /^https?:\/\//i.test(photo);
    if (isUrl ? !URL.canParse(photo) : !/^[A-Za-z0-9_-]+$/.test(photo)) throw bad("wrong file identifier/HTTP URL specified");
    const cap = this.formatCaption(p);
    const markup = this.markup(p);
    this.assertWritable(chat);
    this.admit(chat, p.allow_paid_broadcast === true);

    const message_id = chat.nextMessageId++;
    const message: Message = {
      message_id,
      from: this.botUser,
      chat: chat.chat,
      date: unixNow(),
      photo: this.photoSizes(isUrl ? undefined : photo),
    };
    if (cap) {
      message.caption = cap.text;
      if (cap.entities.length > 0) message.caption_entities = cap.entities;
    }
    if (markup?.inline_keyboard) message.reply_markup = { inline_keyboard: markup.inline_keyboard };
    const entry = this.entryFor("sendPhoto", chat, message_id, p, markup);
    entry.photo = photo;
    const rawCaption = this.str(p, "caption");
    if (rawCaption !== undefined) entry.caption = rawCaption;
    if (cap) {
      entry.plainCaption = cap.text;
      if (cap.entities.length > 0) entry.caption_entities = cap.entities;
    }
    chat.messages.set(message_id, {
      message,
      fromBot: true,
      deleted: false,
      editCount: 0,
      kind: "photo",
      contentKey: cap ? this.contentKey(cap) : "",
      markupKey: this.markupKey(markup),
      view: { ...entry },
    });
    this.logEntry(chat, entry);
    this.counters.sent++;
    return message;
  }

  private copyOrForward(p: Params, method: "copyMessage" | "forwardMessage"): unknown {
    const chat = this.chatFor(p);
    const from = this.chatFor(p, "from_chat_id");
    const sourceId = this.int(p, "message_id");
    const source = sourceId === undefined ? undefined : from.messages.get(sourceId);
    if (!source || source.deleted) throw bad(method === "copyMessage" ? "message to copy not found" : "message to forward not found");
    const cap = method === "copyMessage" ? this.formatCaption(p) : undefined;
    const markup = method === "copyMessage" ? this.markup(p) : undefined;
    this.assertWritable(chat);
    this.admit(chat, p.allow_paid_broadcast === true);

    const message_id = chat.nextMessageId++;
    const { message_id: _id, from: _from, chat: _chat, date: _date, reply_markup: _rm, edit_date: _ed, ...content } = source.message;
    const message: Message = { ...content, message_id, from: this.botUser, chat: chat.chat, date: unixNow() };
    if (cap) {
      message.caption = cap.text;
      if (cap.entities.length > 0) message.caption_entities = cap.entities;
      else delete message.caption_entities;
    }
    if (method === "forwardMessage") {
      message.forward_origin = source.message.from
        ? { type: "user", date: source.message.date, sender_user: source.message.from }
        : { type: "hidden_user", date: source.message.date, sender_user_name: "Hidden" };
    }
    if (markup?.inline_keyboard) message.reply_markup = { inline_keyboard: markup.inline_keyboard };
    const entry = this.entryFor(method, chat, message_id, p, markup);
    entry.from_chat_id = from.id;
    if (message.text !== undefined) entry.plainText = message.text;
    if (message.caption !== undefined) entry.plainCaption = message.caption;
    chat.messages.set(message_id, {
      message,
      fromBot: true,
      deleted: false,
      editCount: 0,
      kind: message.text !== undefined ? "text" : message.photo ? "photo" : "other",
      contentKey: this.contentKey(
        message.text !== undefined
          ? { text: message.text, entities: message.entities ?? [] }
          : { text: message.caption ?? "", entities: message.caption_entities ?? [] },
      ),
      markupKey: this.markupKey(markup),
      view: { ...entry },
    });
    this.logEntry(chat, entry);
    this.counters.sent++;
    return method === "copyMessage" ? { message_id } : message;
  }

  /** Finds the bot message an edit refers to. */
  private editTarget(p: Params): { chat: ChatState; stored: StoredMessage; messageId: number } {
    if (p.inline_message_id !== undefined) throw bad("MESSAGE_ID_INVALID");
    const chat = this.chatFor(p);
    const messageId = this.int(p, "message_id");
    if (messageId === undefined) throw bad("message identifier is not specified");
    const stored = chat.messages.get(messageId);
    if (!stored || stored.deleted) throw bad("message to edit not found");
    if (!stored.fromBot) throw bad("message can't be edited");
    return { chat, stored, messageId };
  }

  /** Folds an edit into the message's current view: `replaced` fields are taken from the edit only. */
  private applyEdit(stored: StoredMessage, entry: SentEntry, replaced: EditableField[]): void {
    const view: SentEntry = { ...stored.view };
    for (const key of replaced) delete view[key];
    stored.view = { ...view, ...entry };
    stored.editCount++;
  }

  private notModified(): ApiFailure {
    return bad(
      "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
    );
  }

  private editMessageText(p: Params): Message {
    const { chat, stored, messageId } = this.editTarget(p);
    const f = this.formatText(p);
    const markup = this.markup(p);
    this.assertWritable(chat);
    if (stored.kind !== "text") throw bad("there is no text in the message to edit");
    const contentKey = this.contentKey(f);
    // Like Telegram, omitting reply_markup removes the inline keyboard.
    const markupKey = this.markupKey(markup);
    if (contentKey === stored.contentKey && markupKey === stored.markupKey) throw this.notModified();

    const message: Message = { ...stored.message, text: f.text, edit_date: unixNow() };
    if (f.entities.length > 0) message.entities = f.entities;
    else delete message.entities;
    if (markup?.inline_keyboard) message.reply_markup = { inline_keyboard: markup.inline_keyboard };
    else delete message.reply_markup;
    if (p.link_preview_options && typeof p.link_preview_options === "object") {
      message.link_preview_options = p.link_preview_options as LinkPreviewOptions;
    }
    const raw = this.str(p, "text") ?? "";
    const entry = this.entryFor("editMessageText", chat, messageId, p, markup);
    entry.text = raw;
    entry.plainText = f.text;
    if (f.entities.length > 0) entry.entities = f.entities;
    stored.message = message;
    stored.contentKey = contentKey;
    stored.markupKey = markupKey;
    this.applyEdit(stored, entry, ["text", "plainText", "entities", "parse_mode", "reply_markup"]);
    this.logEntry(chat, entry);
    this.counters.edits++;
    return message;
  }

  private editMessageCaption(p: Params): Message {
    const { chat, stored, messageId } = this.editTarget(p);
    const cap = this.formatCaption(p);
    const markup = this.markup(p);
    this.assertWritable(chat);
    if (stored.kind === "text") throw bad("there is no caption in the message to edit");
    const contentKey = cap ? this.contentKey(cap) : "";
    const markupKey = this.markupKey(markup);
    if (contentKey === stored.contentKey && markupKey === stored.markupKey) throw this.notModified();

    const message: Message = { ...stored.message, edit_date: unixNow() };
    delete message.caption;
    delete message.caption_entities;
    if (cap) {
      message.caption = cap.text;
      if (cap.entities.length > 0) message.caption_entities = cap.entities;
    }
    if (markup?.inline_keyboard) message.reply_markup = { inline_keyboard: markup.inline_keyboard };
    else delete message.reply_markup;
    const rawCaption = this.str(p, "caption");
    const entry = this.entryFor("editMessageCaption", chat, messageId, p, markup);
    if (rawCaption !== undefined) entry.caption = rawCaption;
    if (cap) {
      entry.plainCaption = cap.text;
      if (cap.entities.length > 0) entry.caption_entities = cap.entities;
    }
    stored.message = message;
    stored.contentKey = contentKey;
    stored.markupKey = markupKey;
    this.applyEdit(stored, entry, ["caption", "plainCaption", "caption_entities", "parse_mode", "reply_markup"]);
    this.logEntry(chat, entry);
    this.counters.edits++;
    return message;
  }

  private editMessageReplyMarkup(p: Params): Message {
    const { chat, stored, messageId } = this.editTarget(p);
    const markup = this.markup(p);
    this.assertWritable(chat);
    const markupKey = this.markupKey(markup);
    if (markupKey === stored.markupKey) throw this.notModified();
    const message: Message = { ...stored.message, edit_date: unixNow() };
    if (markup?.inline_keyboard) message.reply_markup = { inline_keyboard: markup.inline_keyboard };
    else delete message.reply_markup;
    const entry = this.entryFor("editMessageReplyMarkup", chat, messageId, p, markup);
    stored.message = message;
    stored.markupKey = markupKey;
    this.applyEdit(stored, entry, ["reply_markup"]);
    this.logEntry(chat, entry);
    this.counters.edits++;
    return message;
  }

  private deleteMessage(p: Params): true {
    const chat = this.chatFor(p);
    const messageId = this.int(p, "message_id");
    const stored = messageId === undefined ? undefined : chat.messages.get(messageId);
    if (!stored || stored.deleted || messageId === undefined) throw bad("message to delete not found");
    stored.deleted = true;
    const entry: SentEntry = { method: "deleteMessage", chat_id: chat.id, message_id: messageId, at: Date.now() };
    stored.view = { ...stored.view, method: entry.method, at: entry.at };
    this.logEntry(chat, entry);
    this.counters.deleted++;
    return true;
  }

  private answerCallbackQuery(p: Params): true {
    const id = this.str(p, "callback_query_id");
    const query = id === undefined ? undefined : this.queries.get(id);
    if (!query || query.answered || id === undefined) {
      throw bad("query is too old and response timeout expired or query ID is invalid");
    }
    const text = this.str(p, "text");
    if (text !== undefined && text.length > 200) throw bad("MESSAGE_TOO_LONG");
    query.answered = true;
    const answer: CallbackAnswer = { callback_query_id: id, at: Date.now() };
    if (text !== undefined) answer.text = text;
    if (p.show_alert !== undefined) answer.show_alert = p.show_alert === true;
    const url = this.str(p, "url");
    if (url !== undefined) answer.url = url;
    const cacheTime = this.int(p, "cache_time");
    if (cacheTime !== undefined) answer.cache_time = cacheTime;
    if (query.chat_id !== undefined) answer.chat_id = query.chat_id;
    if (query.message_id !== undefined) answer.message_id = query.message_id;
    this.callbackAnswers.push(answer);
    return true;
  }

  private sendChatAction(p: Params): true {
    const chat = this.chatFor(p);
    const action = this.str(p, "action");
    if (!action || !CHAT_ACTIONS.has(action)) throw bad("wrong parameter action in request");
    this.assertWritable(chat);
    return true;
  }

  private scopeOf(p: Params): BotCommandScope {
    const scope = p.scope;
    if (scope === undefined || scope === null) return { type: "default" };
    if (typeof scope !== "object" || typeof (scope as { type?: unknown }).type !== "string") {
      throw bad("can't parse BotCommandScope JSON object");
    }
    return scope as BotCommandScope;
  }

  private commandKey(scope: BotCommandScope, languageCode: string): string {
    return `${canonical(scope)}|${languageCode}`;
  }

  private setMyCommands(p: Params): true {
    const list = p.commands;
    if (!Array.isArray(list)) throw bad("can't parse commands JSON object");
    if (list.length > 100) throw bad("too many commands");
    const commands: BotCommand[] = [];
    for (const c of list as unknown[]) {
      const cmd = c as Partial<BotCommand> | null;
      if (!cmd || typeof cmd.command !== "string" || !/^[a-z0-9_]{1,32}$/.test(cmd.command)) throw bad("BOT_COMMAND_INVALID");
      if (typeof cmd.description !== "string" || cmd.description.length < 1 || cmd.description.length > 256) {
        throw bad("BOT_COMMAND_DESCRIPTION_INVALID");
      }
      commands.push({ command: cmd.command, description: cmd.description });
    }
    const scope = this.scopeOf(p);
    const lang = this.str(p, "language_code") ?? "";
    this.commandStore.set(this.commandKey(scope, lang), commands);
    const call: CommandsCall = { method: "setMyCommands", commands, scope, at: Date.now() };
    if (lang) call.language_code = lang;
    this.commands.push(call);
    return true;
  }

  private deleteMyCommands(p: Params): true {
    const scope = this.scopeOf(p);
    const lang = this.str(p, "language_code") ?? "";
    this.commandStore.delete(this.commandKey(scope, lang));
    const call: CommandsCall = { method: "deleteMyCommands", commands: [], scope, at: Date.now() };
    if (lang) call.language_code = lang;
    this.commands.push(call);
    return true;
  }

  private setWebhook(p: Params): true {
    const url = this.str(p, "url") ?? "";
    if (url === "") return this.deleteWebhook(p);
    // Telegram insists on HTTPS; a local emulator has to accept plain http to reach test servers.
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw bad("bad webhook: Failed to resolve host: Name or service not known");
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw bad("bad webhook: An HTTPS URL must be provided for webhook");
    const secret = this.str(p, "secret_token");
    if (secret !== undefined && !/^[A-Za-z0-9_-]{1,256}$/.test(secret)) throw bad("secret token contains unallowed characters");
    if (this.poller) {
      const old = this.poller;
      this.poller = undefined;
      clearTimeout(old.timer);
      this.fail(old.res, "getUpdates", old.params, old.started, new ApiFailure(409, "Conflict: terminated by setWebhook request"));
    }
    this.webhook = { url };
    if (secret) this.webhook.secret_token = secret;
    const maxConnections = this.int(p, "max_connections");
    if (maxConnections !== undefined) this.webhook.max_connections = maxConnections;
    if (Array.isArray(p.allowed_updates)) this.webhook.allowed_updates = p.allowed_updates as string[];
    this.lastWebhookError = undefined;
    const pending = this.updates.slice(this.updatesHead);
    this.updates = [];
    this.updatesHead = 0;
    if (p.drop_pending_updates !== true) for (const u of pending) this.deliverWebhook(u);
    return true;
  }

  private deleteWebhook(p: Params): true {
    this.webhook = undefined;
    if (p.drop_pending_updates === true) {
      this.updates = [];
      this.updatesHead = 0;
    }
    return true;
  }

  private getWebhookInfo(): WebhookInfo {
    const info: WebhookInfo = {
      url: this.webhook?.url ?? "",
      has_custom_certificate: false,
      pending_update_count: this.updates.length - this.updatesHead,
    };
    if (this.webhook?.max_connections !== undefined) info.max_connections = this.webhook.max_connections;
    if (this.webhook?.allowed_updates) info.allowed_updates = this.webhook.allowed_updates as WebhookInfo["allowed_updates"];
    if (this.webhook && this.lastWebhookError) {
      info.last_error_date = this.lastWebhookError.date;
      info.last_error_message = this.lastWebhookError.message;
    }
    return info;
  }

  private contentKey(f: Formatted): string {
    return f.entities.length === 0 ? f.text : `${f.text}\u0000${canonical(f.entities)}`;
  }

  private markupKey(markup: ReplyMarkupLike | undefined): string {
    return markup?.inline_keyboard ? canonical(markup.inline_keyboard) : "";
  }
}

/** Creates an emulator; call `await emu.start()` before use and `await emu.close()` after. */
export function createTelegramEmulator(options?: TelegramEmulatorOptions): TelegramEmulator {
  return new TelegramEmulator(options);
}

/** create + start in one call. */
export async function startTelegramEmulator(options?: TelegramEmulatorOptions): Promise<TelegramEmulator> {
  const emu = new TelegramEmulator(options);
  await emu.start();
  return emu;
}
