/**
 * Worker processes (the real src/main.ts with ROLE=worker) dying or freezing in the middle of a
 * fan-out, and the bot plus both workers restarted during an editor's broadcast. Each ends with
 * every recipient reached, nobody twice beyond the sends in flight at the instant of the crash.
 *
 * The tests share one emulator, one bot and one key prefix, and hand surviving worker processes
 * on to the next test (spawning one costs seconds on this machine); each test has its own topic,
 * so audiences never overlap.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { startHarness, uniquePrefix, type Harness } from "../support/harness.ts";
import { waitForFanout } from "../support/seed.ts";
import { processEnv, spawnBot, type BotProcess } from "../support/processes.ts";
import { startTelegramEmulator, type TelegramEmulator } from "../support/telegram-emulator.ts";
import { ADMIN, broadcastTo, copiesPerChat, report, seedAudience, tally, textHas } from "../support/reliability.ts";

/** Sends one process can have in flight: 8 lanes per chunk × DELIVERY_CONCURRENCY chunks (default 4). */
const IN_FLIGHT_BOUND = 8 * 4;

describe("worker processes crashing or freezing mid fan-out", () => {
  let emu: TelegramEmulator;
  let h: Harness;
  let prefix: string;
  const procs: BotProcess[] = [];
  const botEnv = { ADMIN_IDS: String(ADMIN.id), DELIVERY_RATE: "20", PAID_BROADCAST: "true", PAID_BROADCAST_RATE: "1000" };
  // Articles go out as paid broadcasts at 1,000/s (10,000 take ~10-20 s); editors' broadcasts are
  // unpaid unless chosen, so they go at DELIVERY_RATE.
  const workerEnv = () => processEnv(emu, inject("redisUrl"), prefix, { ROLE: "worker", DELIVERY_RATE: "20", PAID_BROADCAST: "true", PAID_BROADCAST_RATE: "1000" });

  async function startWorker(): Promise<BotProcess> {
    const p = spawnBot(workerEnv());
    procs.push(p);
    await p.waitForLog('"msg":"started"', 60_000);
    return p;
  }
  const alive = () => procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);

  beforeAll(async () => {
    emu = await startTelegramEmulator({ paidRate: 1000, recordCalls: false });
    prefix = uniquePrefix();
    // The bot runs in-process (updates, the broadcast conversation); it runs no workers.
    h = await startHarness({ emu, prefix, role: "bot", env: botEnv });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill("SIGKILL")));
    await h?.stop();
    await emu?.close();
  });

  it("a worker killed with SIGKILL mid 10,000-recipient fan-out, then restarted: each recipient gets it once", { timeout: 180_000 }, async () => {
    const t0 = Date.now();
    const [chats, w1] = await Promise.all([seedAudience(h.app, 2_000_000, 10_000, ["energy"]), startWorker()]);
    const tReady = Date.now();
    const title = "Gas price reform: what changes for households";
    const r = await h.app.ingest.ingest({ item: { url: "https://news.example.org/sigkill-10k", title, summary: "" }, source: { kind: "cms" }, explicitTopics: ["energy"] });
    expect(r.status).toBe("queued");

    // Kill it once about a third of the audience has the article.
    await emu.waitFor(() => emu.countSent >= 3_000, 60_000, "3,000 messages sent");
    await w1.kill("SIGKILL");
    const atKill = emu.countSent;
    const tKill = Date.now();
    expect(atKill).toBeLessThan(10_000);

    const w2 = await startWorker();
    const tRestarted = Date.now();
    const rec = await waitForFanout(h.app, r.id, 120_000);
    const tDone = Date.now();
    const t = tally(copiesPerChat(emu, chats, textHas(title)));
    report("SIGKILL mid fan-out (10,000 recipients)", {
      sentAtKill: atKill,
      missing: t.missing,
      duplicates: t.duplicates,
      bound: IN_FLIGHT_BOUND,
      setupS: (tReady - t0) / 1000,
      toKillS: (tKill - tReady) / 1000,
      restartS: (tRestarted - tKill) / 1000,
      finishS: (tDone - tRestarted) / 1000,
    });
    expect(rec).toMatchObject({ state: "done", paid: true, audience: 10_000, sent: 10_000, failed: 0, blocked: 0 });
    expect(t.missing).toBe(0);
    expect(t.duplicates).toBeLessThanOrEqual(IN_FLIGHT_BOUND);
    // The record is marked done a moment before the line reaches the pipe.
    await expect.poll(() => w2.output.some((l) => l.includes('"msg":"fan-out finished"')), { timeout: 5_000 }).toBe(true);
  });

  it("a worker frozen (SIGSTOP) past its job lock, then resumed: another takes over and the resumed one stops", { timeout: 120_000 }, async () => {
    // A long GC pause, a frozen VM or container: the lock expires while the process still holds the job.
    const [chats, w1] = await Promise.all([seedAudience(h.app, 2_100_000, 2_500, ["cybersecurity"]), alive()[0] ?? startWorker()]);
    const title = "Ransomware response plan adopted";
    const r = await h.app.ingest.ingest({ item: { url: "https://news.example.org/sigstop", title, summary: "" }, source: { kind: "cms" }, explicitTopics: ["cybersecurity"] });
    // The only chunk is w1's once sending starts; a second worker, started meanwhile, stays idle.
    await emu.waitFor(() => tally(copiesPerChat(emu, chats, textHas(title))).reached >= 50, 60_000, "w1 sending");
    const w2ready = startWorker();
    await emu.waitFor(() => tally(copiesPerChat(emu, chats, textHas(title))).reached >= 500, 60_000, "500 readers reached");

    w1.child.kill("SIGSTOP");
    const atStop = tally(copiesPerChat(emu, chats, textHas(title))).reached;
    // w2 takes the chunk over once w1's lock (JOB_LOCK_MS = 2 s) has expired.
    await w2ready;
    await emu.waitFor(() => tally(copiesPerChat(emu, chats, textHas(title))).reached >= atStop + 600, 60_000, "w2 took over and reached 600 more");
    w1.child.kill("SIGCONT");

    const rec = await waitForFanout(h.app, r.id, 90_000);
    // Give the resumed w1 time to do whatever it still would.
    await new Promise((res) => setTimeout(res, 1_500));
    const t = tally(copiesPerChat(emu, chats, textHas(title)));
    report("SIGSTOP past the job lock, then SIGCONT (2,500 recipients)", { reachedAtStop: atStop, missing: t.missing, duplicates: t.duplicates, bound: IN_FLIGHT_BOUND });
    expect(rec).toMatchObject({ state: "done", audience: 2_500, sent: 2_500, failed: 0 });
    expect(t.missing).toBe(0);
    expect(t.duplicates).toBeLessThanOrEqual(IN_FLIGHT_BOUND);
    // The resumed run says why it stopped.
    expect(w1.output.some((l) => l.includes("chunk taken over by a newer run"))).toBe(true);
  });

  it("the bot and both workers restarted during a broadcast: it completes once and its progress message stays right", { timeout: 180_000 }, async () => {
    const running = alive();
    const [chats, w1, w2] = await Promise.all([
      seedAudience(h.app, 2_200_000, 120, ["turkmenistan"]),
      running[0] ?? startWorker(),
      running[1] ?? startWorker(),
    ]);
    const text = "Ashgabat airport reopens after the storm";
    const { id, status } = await broadcastTo(emu, text, ["turkmenistan"]);
    await emu.waitFor(() => tally(copiesPerChat(emu, chats, textHas(text))).reached >= 30, 30_000, "30 readers reached");

    // Everything goes down at once: one worker crashes, the other and the bot shut down cleanly.
    await Promise.all([w1.kill("SIGKILL"), w2.kill("SIGTERM"), h.app.stop()]);
    h.redis.disconnect();
    const atRestart = tally(copiesPerChat(emu, chats, textHas(text))).reached;
    expect(atRestart).toBeLessThan(120);

    h = await startHarness({ emu, prefix, role: "bot", env: botEnv });
    await Promise.all([startWorker(), startWorker()]);
    const rec = await waitForFanout(h.app, id, 60_000);
    const t = tally(copiesPerChat(emu, chats, textHas(text)));
    expect(rec).toMatchObject({ state: "done", audience: 120, sent: 120, failed: 0, blocked: 0 });
    expect(t.missing).toBe(0);
    // One chunk: at most its 8 lanes were in flight when the worker died.
    expect(t.duplicates).toBeLessThanOrEqual(8);

    // The status message ends with the totals...
    await emu.waitFor(() => emu.message(ADMIN.id, status.message_id)?.plainText?.includes("Broadcast finished"), 20_000, "final status");
    expect(emu.message(ADMIN.id, status.message_id)?.plainText).toContain("Audience: 120 · Sent: 120 · Failed: 0 · Blocked: 0");
    // ...and every edit on the way was consistent: counts only grow and always add up to the audience.
    const edits = emu.sent(ADMIN.id).filter((e) => e.message_id === status.message_id && e.method === "editMessageText");
    let last = 0;
    for (const e of edits) {
      const m = /Sent: (\d+) · Failed: (\d+) · Blocked: (\d+) · Remaining: (\d+)/.exec(e.plainText ?? "");
      if (!m) continue;
      const [sent, failed, blocked, remaining] = m.slice(1).map(Number) as [number, number, number, number];
      expect(sent).toBeGreaterThanOrEqual(last);
      expect(sent + failed + blocked + remaining).toBe(120);
      last = sent;
    }
    report("bot + both workers restarted mid broadcast (120 readers)", { reachedAtRestart: atRestart, missing: t.missing, duplicates: t.duplicates, statusEdits: edits.length });
  });
});
