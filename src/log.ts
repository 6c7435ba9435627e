/**
 * The one module that writes output. Everything else receives a
 * {@linkcode Logger} and never prints by itself, so tests can silence or
 * capture it.
 *
 * @module
 */
import type { LogLevel } from "./config.ts";

/** Extra structured fields of one log line. */
export type LogFields = Record<string, unknown>;

/** Writes structured log lines at four levels. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options for {@linkcode createLogger}. */
export interface CreateLoggerOptions {
  /** The least severe level written; `info` by default. */
  level?: LogLevel;
  /** Where each finished line goes; standard output by default. */
  write?: (line: string) => void;
  /** The current time as epoch milliseconds; the wall clock by default. */
  now?: () => number;
}

function writeStdout(line: string): void {
  // deno-lint-ignore no-console -- this module is the service's only output.
  console.log(line);
}

/**
 * Creates a logger that writes one JSON object per line.
 *
 * @example Usage
 * ```ts
 * const log = createLogger({ level: "warn" });
 * log.warn("Generated a signing secret", { store: "./data/auth.kv" });
 * ```
 */
export function createLogger(options: CreateLoggerOptions = {}): Logger {
  const threshold = RANK[options.level ?? "info"];
  const write = options.write ?? writeStdout;
  const now = options.now ?? Date.now;
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    const time = new Date(now()).toISOString();
    // The line's own keys come first and cannot be overwritten by a field.
    const line = { time, level, msg: message };
    write(JSON.stringify(Object.assign({ ...line }, fields, line)));
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
  };
}

/** A logger that drops everything, for tests and embedding. */
export const silentLogger: Logger = createLogger({ write: () => {} });
