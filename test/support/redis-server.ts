import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A private redis-server on a free loopback port, so tests never touch a shared instance. */
export interface RedisProcess {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** SIGKILL the server (for fault tests); `restart()` brings it back on the same port and dir. */
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** `args`: extra redis-server arguments; later ones win (e.g. ["--maxmemory-policy", "allkeys-lru"]). */
export async function startRedis(opts: { appendonly?: boolean; args?: string[] } = {}): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "newsbot-redis-"));
  const args = [
    "--port", String(port),
    "--bind", "127.0.0.1",
    "--save", "",
    "--appendonly", opts.appendonly ? "yes" : "no",
    "--appendfsync", "always",
    "--dir", dir,
    "--maxmemory-policy", "noeviction",
    "--logfile", join(dir, "redis.log"),
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;

  const launch = async () => {
    child = spawn("redis-server", args, { stdio: "ignore" });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const waitExit = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise((r) => c.once("exit", r));
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      child?.kill("SIGTERM");
      await waitExit();
      rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      child?.kill("SIGKILL");
      await waitExit();
    },
    async restart() {
      await launch();
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.end("PING\r\n");
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
