import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { startHarness, uniquePrefix, type Harness } from "./support/harness.ts";
import { range, seedSubscribers, waitForFanout } from "./support/seed.ts";
import { processEnv, spawnBot, type BotProcess } from "./support/processes.ts";
import { startTelegramEmulator, type TelegramEmulator } from "./support/telegram-emulator.ts";
import { peakPerSecond } from "./support/rates.ts";



describe("separate worker processes on one Redis", () => {
  let emu: TelegramEmulator;
  let h: Harness;
  let prefix: string;
  const procs: BotProcess[] = [];
  const workerEnv = () =>
    processEnv(emu, inject("redisUrl"), prefix, {
      ROLE: "worker",
      // Below the default 25 so a loaded CI machine's scheduling jitter can't push a burst over 30/s;
      // the point here is that two processes share one limit, not how close to it they run.
      DELIVERY_RATE: "20",
    });

  beforeAll(async () => {
    // Telegram's own limit, enforced by the emulator: 30 messages/s for the bot.
    emu = await startTelegramEmulator({ globalRate: 30, recordCalls: false });
    prefix = uniquePrefix();
    // The in-test app only subscribes and ingests: role "bot" runs no workers.
    h = await startHarness({ emu, prefix, role: "bot", polling: false });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill("SIGKILL")));
    await h?.stop();
    await emu?.close();
  });

  async function startWorker(extra: Record<string, string> = {}) {
    const p = spawnBot({ ...workerEnv(), ...extra });
    procs.push(p);
    await p.waitForLog('"msg":"started"');
    return p;
  }

  function copiesPerChat(chats: number[], title: string) {
    return chats.map((c) => h.emu.sent(c).filter((e) => e.plainText?.includes(title)).length);
  }

  it("two worker processes deliver two articles at once, each once, within the global limit", async () => {
    const energy = range(700_000, 120);
    const fintech = range(710_000, 120);
    await seedSubscribers(h.app, [
      ...energy.map((id) => ({ id, topics: ["energy"] })),
      ...fintech.map((id) => ({ id, topics: ["digital_economy"] })),
    ]);
    // One chunk at a time per process, so each process takes one of the two fan-outs.
    const [w1, w2] = await Promise.all([startWorker({ DELIVERY_CONCURRENCY: "1" }), startWorker({ DELIVERY_CONCURRENCY: "1" })]);
    const [a, b] = await Promise.all([
      h.app.ingest.ingest({ item: { url: "https://news.example.org/two-workers-a", title: "Gas output record", summary: "" }, source: { kind: "cms" }, explicitTopics: ["energy"] }),
      h.app.ingest.ingest({ item: { url: "https://news.example.org/two-workers-b", title: "Fintech sandbox opens", summary: "" }, source: { kind: "cms" }, explicitTopics: ["digital_economy"] }),
    ]);
    expect(await waitForFanout(h.app, a.id, 30_000)).toMatchObject({ audience: 120, sent: 120, failed: 0 });
    expect(await waitForFanout(h.app, b.id, 30_000)).toMatchObject({ audience: 120, sent: 120, failed: 0 });
    expect(copiesPerChat(energy, "Gas output record").every((n) => n === 1)).toBe(true);
    expect(copiesPerChat(fintech, "Fintech sandbox opens").every((n) => n === 1)).toBe(true);
    expect(emu.count429).toBe(0);
    const times = [...energy, ...fintech].flatMap((c) => h.emu.sent(c).map((e) => e.at));
    expect(peakPerSecond(times)).toBeLessThanOrEqual(30);
    // Both processes delivered a chunk, sharing the one global limit.
    expect(w1.output.some((l) => l.includes('"msg":"chunk delivered"'))).toBe(true);
    expect(w2.output.some((l) => l.includes('"msg":"chunk delivered"'))).toBe(true);
    await Promise.all([w1.kill("SIGTERM"), w2.kill("SIGTERM")]);
    expect(await w1.exited).toBe(0);
    expect(await w2.exited).toBe(0);
  });

  it("a worker killed with SIGKILL mid fan-out and started again delivers exactly once", async () => {
    const chats = range(800_000, 150);
    await seedSubscribers(h.app, chats.map((id) => ({ id, topics: ["cybersecurity"] })));
    const w1 = await startWorker();
    const r = await h.app.ingest.ingest({
      item: { url: "https://news.example.org/kill-test", title: "Ransomware response plan", summary: "" },
      source: { kind: "cms" },
      explicitTopics: ["cybersecurity"],
    });
    // Kill it once a third of the audience has the article.
    await h.emu.waitFor(() => copiesPerChat(chats, "Ransomware response plan").filter((n) => n > 0).length >= 50, 20_000);
    await w1.kill("SIGKILL");
    const atKill = copiesPerChat(chats, "Ransomware response plan").filter((n) => n > 0).length;
    expect(atKill).toBeLessThan(150);

    await startWorker();
    const rec = await waitForFanout(h.app, r.id, 40_000);
    const copies = copiesPerChat(chats, "Ransomware response plan");
    expect(copies.filter((n) => n === 0)).toHaveLength(0);
    const duplicates = copies.reduce((n, c) => n + Math.max(0, c - 1), 0);
    console.log(`SIGKILL test: ${atKill} delivered at kill, ${duplicates} duplicates`);
    // At most the sends in flight at the kill (8 lanes) can be doubled; settled ones never are.
    expect(duplicates).toBeLessThanOrEqual(8);
    expect(rec.sent).toBe(150);
    expect(rec.audience).toBe(150);
  });
});
