/**
 * The Telegram emulator (test/support/telegram-emulator.ts) for benchmarks, either in a child
 * process (default: it gets its own event loop, like Telegram would) or in the bench process
 * (BENCH_EMULATOR=inprocess). Both are driven through the same small request interface.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { UserFromGetMe } from "grammy/types";
import { startTelegramEmulator, type PressureOptions, type TelegramEmulatorOptions } from "../test/support/telegram-emulator.ts";

export type EmulatorRequest =
  | { cmd: "reset"; pressure?: Partial<PressureOptions> }
  | { cmd: "collect" }
  | { cmd: "cpu" }
  | { cmd: "close" };

export interface EmulatorInfo {
  apiRoot: string;
  token: string;
  botInfo: UserFromGetMe;
  pid: number;
}

/** What the emulator saw since the last reset. */
export interface Collected {
  /** Accepted messages (sendMessage/sendPhoto) as [chatId, at ms] pairs, flattened, in order. */
  sent: number[];
  /** Time (ms, ±10 ms) of every 429 answered. */
  at429: number[];
  count429: number;
  calls: number;
  /** Event-loop delay of the emulator's process since the reset (ms): its own stalls. */
  loopDelay: LoopDelay;
}

export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** Event-loop delay histogram of this process (ms), for telling whose stalls caused a burst. */
export function loopDelayMonitor(): { reset(): void; read(): LoopDelay; stop(): void } {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  return {
    reset: () => h.reset(),
    read: () => ({ p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 }),
    stop: () => h.disable(),
  };
}

export interface EmulatorCore {
  info: EmulatorInfo;
  handle(req: EmulatorRequest): Promise<unknown>;
}

/** The emulator plus what the bench needs from it; runs wherever it is created. */
export async function createEmulatorCore(options: TelegramEmulatorOptions): Promise<EmulatorCore> {
  const emu = await startTelegramEmulator({ ...options, recordCalls: false });
  // count429 is a counter only (recordCalls is off for speed): sample it to place 429s in time.
  let at429: number[] = [];
  let seen429 = 0;
  const loop = loopDelayMonitor();
  const sampler = setInterval(() => {
    const n = emu.count429;
    if (n > seen429) {
      const now = Date.now();
      for (; seen429 < n; seen429++) at429.push(now);
    }
  }, 10);
  return {
    info: { apiRoot: emu.apiRoot, token: emu.token, botInfo: emu.botInfo, pid: process.pid },
    async handle(req) {
      switch (req.cmd) {
        case "reset":
          emu.reset();
          if (req.pressure) emu.configure(req.pressure);
          at429 = [];
          seen429 = 0;
          loop.reset();
          return null;
        case "collect": {
          const sent: number[] = [];
          for (const e of emu.sent()) if (e.method === "sendMessage" || e.method === "sendPhoto") sent.push(e.chat_id, e.at);
          const out: Collected = { sent, at429: [...at429], count429: emu.count429, calls: emu.countCalls, loopDelay: loop.read() };
          return out;
        }
        case "cpu":
          return process.cpuUsage();
        case "close":
          clearInterval(sampler);
          loop.stop();
          await emu.close();
          return null;
      }
    },
  };
}

export interface BenchEmulator extends EmulatorInfo {
  mode: "child" | "inprocess";
  /** Clears chats, counters and limiter windows; optionally changes the pressure knobs. */
  reset(pressure?: Partial<PressureOptions>): Promise<void>;
  collect(): Promise<Collected>;
  /** CPU time of the process the emulator runs in. */
  cpuUsage(): Promise<NodeJS.CpuUsage>;
  close(): Promise<void>;
}

export function emulatorMode(): "child" | "inprocess" {
  return process.env.BENCH_EMULATOR === "inprocess" ? "inprocess" : "child";
}

export async function startBenchEmulator(options: TelegramEmulatorOptions, mode = emulatorMode()): Promise<BenchEmulator> {
  if (mode === "inprocess") {
    const core = await createEmulatorCore(options);
    return {
      ...core.info,
      mode,
      reset: async (pressure) => void (await core.handle({ cmd: "reset", ...(pressure ? { pressure } : {}) })),
      collect: async () => (await core.handle({ cmd: "collect" })) as Collected,
      cpuUsage: async () => (await core.handle({ cmd: "cpu" })) as NodeJS.CpuUsage,
      close: async () => void (await core.handle({ cmd: "close" })),
    };
  }

  const child: ChildProcess = fork(fileURLToPath(new URL("./emulator-server.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    // JSON can't carry Infinity: send it as a string and revive it on the other side.
    env: { ...process.env, BENCH_EMULATOR_OPTIONS: JSON.stringify(options, (_k, v: unknown) => (v === Infinity ? "Infinity" : v)) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const info = await new Promise<EmulatorInfo>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`emulator process exited with ${code} before it started`)));
    child.on("message", (m: { id: number; result?: unknown; error?: string }) => {
      if (m.id === 0) return resolve(m.result as EmulatorInfo);
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.result);
    });
  });
  const call = (req: EmulatorRequest) =>
    new Promise<unknown>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, req });
    });
  return {
    ...info,
    mode,
    reset: async (pressure) => void (await call({ cmd: "reset", ...(pressure ? { pressure } : {}) })),
    collect: async () => (await call({ cmd: "collect" })) as Collected,
    cpuUsage: async () => (await call({ cmd: "cpu" })) as NodeJS.CpuUsage,
    async close() {
      await call({ cmd: "close" }).catch(() => undefined);
      child.disconnect();
      await exited;
    },
  };
}

/** JSON.parse reviver for options sent by startBenchEmulator. */
export function reviveInfinity(_k: string, v: unknown): unknown {
  return v === "Infinity" ? Infinity : v;
}
