import { pino, type Logger, type DestinationStream } from "pino";
import { prettyFactory } from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  level: string;
  pretty: boolean;
  /** Strings that must never reach a log line (the bot token), whatever logs them. */
  secrets?: string[];
  /** Where lines go; stdout by default (tests capture them). */
  destination?: { write(line: string): unknown };
}

/**
 * pino with every secret masked at the stream: a token can hide in an error message, a URL
 * or a stack trace, so masking the final line is the only place that catches all of them.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const secrets = (opts.secrets ?? []).filter((s) => s.length >= 8);
  const out = opts.destination ?? process.stdout;
  const mask = (line: string) => {
    let masked = line;
    for (const s of secrets) masked = masked.split(s).join("[REDACTED]");
    return masked;
  };
  // Formatting in-process keeps writes synchronous, so the last lines before a crash are not lost.
  const prettify = opts.pretty ? prettyFactory({ colorize: false, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" }) : undefined;
  const stream: DestinationStream = {
    write: (line: string) => void out.write(mask(prettify ? prettify(line) : line)),
  };
  return pino({ level: opts.level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}
