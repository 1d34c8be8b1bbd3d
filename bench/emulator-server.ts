/**
 * The Telegram emulator in its own process, so its HTTP parsing and HTML checks don't share an
 * event loop (or a core) with the pipeline being measured. Started by bench/emulator.ts with
 * `node --import tsx bench/emulator-server.ts`; talks to the parent over the IPC channel.
 */
import { createEmulatorCore, reviveInfinity, type EmulatorRequest } from "./emulator.ts";

const options = JSON.parse(process.env.BENCH_EMULATOR_OPTIONS ?? "{}", reviveInfinity) as Parameters<typeof createEmulatorCore>[0];
const core = await createEmulatorCore(options);

process.on("message", (msg: { id: number; req: EmulatorRequest }) => {
  void core.handle(msg.req).then(
    (result) => process.send?.({ id: msg.id, result }),
    (err: unknown) => process.send?.({ id: msg.id, error: String((err as Error)?.message ?? err) }),
  );
});
// The parent died or closed the channel: don't linger.
process.on("disconnect", () => {
  void core.handle({ cmd: "close" }).finally(() => process.exit(0));
});
process.send?.({ id: 0, result: core.info });
