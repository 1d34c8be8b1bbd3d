import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: more forks only add contention to the Redis and emulator processes.
    maxWorkers: 2,
    pool: "forks",
  },
});
