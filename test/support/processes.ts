import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CATALOG = fileURLToPath(new URL("../fixtures/catalog.yaml", import.meta.url));

/**
 * The environment of a bot or worker process on the test run's Redis and an emulator: the test
 * catalog, any free port, a 2 s job lock so a killed worker's jobs are taken over quickly.
 */
export function processEnv(emu: { token: string; apiRoot: string }, redisUrl: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    BOT_TOKEN: emu.token,
    TELEGRAM_API_ROOT: emu.apiRoot,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    CATALOG_PATH: CATALOG,
    PORT: "0",
    JOB_LOCK_MS: "2000",
    ...extra,
  };
}

export interface BotProcess {
  child: ChildProcess;
  output: string[];
  /** Resolves when a log line contains `text`. */
  waitForLog(text: string, timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Runs the real entry point (src/main.ts) as a separate process, the way production does. */
export function spawnBot(env: Record<string, string>): BotProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", NODE_ENV: "production", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const onData = (buf: Buffer) => {
    for (const line of buf.toString("utf8").split("\n")) {
      if (!line) continue;
      output.push(line);
      for (const w of [...waiters]) {
        if (line.includes(w.text)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output,
    exited,
    waitForLog(text, timeoutMs = 20_000) {
      if (output.some((l) => l.includes(text))) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no log line with "${text}" within ${timeoutMs} ms; output:\n${output.slice(-20).join("\n")}`)), timeoutMs);
        waiters.push({ text, resolve: () => (clearTimeout(t), resolve()) });
      });
    },
    async kill(signal) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
