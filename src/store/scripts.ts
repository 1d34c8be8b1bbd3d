import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Redis } from "ioredis";

interface Script {
  text: string;
  sha: string;
}

const scripts = new Map<string, Script>();

function load(name: string): Script {
  let script = scripts.get(name);
  if (!script) {
    const text = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), "utf8");
    // The SHA is computed locally so even the first call can try EVALSHA.
    script = { text, sha: createHash("sha1").update(text).digest("hex") };
    scripts.set(name, script);
  }
  return script;
}

/** Runs `lua/<name>.lua` by SHA, sending the text only when Redis doesn't know it yet (NOSCRIPT). */
export async function runScript(
  redis: Redis,
  name: string,
  keys: string[],
  args: Array<string | number>,
): Promise<unknown> {
  const { text, sha } = load(name);
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith("NOSCRIPT")) {
      return redis.eval(text, keys.length, ...keys, ...args);
    }
    throw err;
  }
}
