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
  /** Writes out every line still held back. */
  flush(): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Options for {@linkcode createLogger}. */
export interface CreateLoggerOptions {
  /** The least severe level written; `info` by default. */
  level?: LogLevel;
  /** Where each finished line goes; batched standard output by default. */
  write?: (line: string) => void;
  /** Sends out lines the writer holds back; called before exit. */
  flush?: () => void;
  /** The current time as epoch milliseconds; the wall clock by default. */
  now?: () => number;
}

const encoder = new TextEncoder();

/**
 * Writes lines to standard output in batches: a write per request costs a
 * system call on the serving thread, so lines wait up to `delayMs` (or
 * until `maxBytes` gather) and go out together.
 */
export function createBatchedWriter(
  options: { delayMs?: number; maxBytes?: number } = {},
): { write(line: string): void; flush(): void } {
  const delayMs = options.delayMs ?? 20;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  let pending: string[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function flush(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const bytes = encoder.encode(pending.join(""));
    pending = [];
    size = 0;
    let written = 0;
    while (written < bytes.length) {
      written += Deno.stdout.writeSync(bytes.subarray(written));
    }
  }

  function write(line: string): void {
    pending.push(line, "\n");
    size += line.length + 1;
    if (size >= maxBytes) flush();
    else timer ??= setTimeout(flush, delayMs);
  }

  return { write, flush };
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
  const batched = options.write ? undefined : createBatchedWriter();
  const write = options.write ?? batched?.write ?? (() => {});
  const flush = options.flush ?? batched?.flush ?? (() => {});
  const now = options.now ?? Date.now;
  const clock = isoClock(now);
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (RANK[level] < threshold) return;
    write(formatLine(clock(), level, message, fields));
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    flush,
  };
}

// Turning a time into ISO text costs more than the rest of a request line,
// and a busy server writes many lines within one millisecond.
function isoClock(now: () => number): () => string {
  let last = NaN;
  let text = "";
  return () => {
    const ms = now();
    if (ms !== last) {
      last = ms;
      text = new Date(ms).toISOString();
    }
    return text;
  };
}

// The line's own keys come first and cannot be overwritten by a field.
function formatLine(
  time: string,
  level: LogLevel,
  message: string,
  fields: LogFields | undefined,
): string {
  const head = `{"time":"${time}","level":"${level}","msg":` +
    JSON.stringify(message);
  if (!fields) return head + "}";
  if ("time" in fields || "level" in fields || "msg" in fields) {
    const { time: _t, level: _l, msg: _m, ...rest } = fields;
    fields = rest;
  }
  const tail = JSON.stringify(fields);
  return tail === "{}" ? head + "}" : `${head},${tail.slice(1)}`;
}

/** A logger that drops everything, for tests and embedding. */
export const silentLogger: Logger = createLogger({ write: () => {} });
