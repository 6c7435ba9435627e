/**
 * The service's configuration: read once from the environment, validated,
 * and handed to everything else as a plain value.
 *
 * @module
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";

/** Every environment variable the service reads. */
export const ENV_VARS = [
  "APP_SECRET_STRING",
  "PORT",
  "HOSTNAME",
  "KV_PATH",
  "ACCESS_TOKEN_TTL",
  "REFRESH_TOKEN_TTL",
  "BCRYPT_COST",
  "PASSWORD_MIN_LENGTH",
  "REFRESH_REUSE_INTERVAL",
  "LOG_LEVEL",
  "HASH_WORKERS",
  "HASH_QUEUE_LIMIT",
  "LOGIN_MAX_FAILURES",
  "LOGIN_MAX_FAILURES_PER_ADDRESS",
  "LOGIN_WINDOW",
  "SIGNUP_MAX_PER_ADDRESS",
  "ALLOWED_ORIGINS",
  // Set by Deno Deploy in every deployment; read only to detect it.
  "DENO_DEPLOYMENT_ID",
] as const;

/** The name of one environment variable the service reads. */
export type EnvVar = typeof ENV_VARS[number];

/** The environment as the service sees it: only its own variables. */
export type Env = Partial<Record<EnvVar, string>>;

/** How much the service logs. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** The validated configuration. */
export interface Config {
  /** The HS256 signing secret, or `undefined` to use the stored one. */
  secret: Uint8Array | undefined;
  port: number;
  hostname: string;
  /** Where Deno KV lives; `undefined` lets the platform choose. */
  kvPath: string | undefined;
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  bcryptCost: number;
  passwordMinLength: number;
  refreshReuseIntervalMs: number;
  logLevel: LogLevel;
  /** Password-hashing workers; 0 hashes on the serving thread. */
  hashWorkers: number;
  /** Hash requests that may wait for a worker before 503. */
  hashQueueLimit: number;
  /** Failed logins per username in a window before 429. */
  loginMaxFailures: number;
  /** Failed logins per client address in a window before 429. */
  loginMaxFailuresPerAddress: number;
  /** The window failed logins and signups are counted in. */
  loginWindowMs: number;
  /** Signups per client address in a login window before 429. */
  signupMaxPerAddress: number;
  /** Origins that browsers may call the service from (CORS). */
  allowedOrigins: string[];
}

/** The configuration that applies when the environment sets nothing. */
export const DEFAULTS = {
  port: 8000,
  hostname: "127.0.0.1",
  kvPath: "./data/auth.kv",
  accessTokenTtl: "30m",
  refreshTokenTtl: "10h",
  bcryptCost: 12,
  passwordMinLength: 8,
  refreshReuseInterval: "10s",
  logLevel: "info",
  hashQueueLimit: 64,
  loginMaxFailures: 5,
  loginMaxFailuresPerAddress: 50,
  loginWindow: "15m",
  signupMaxPerAddress: 20,
} as const;

/** Raised when a variable holds a value the service cannot run with. */
export class ConfigError extends Error {
  /** A stable code to branch on. */
  readonly code = "ERR_CONFIG";

  /** The variable at fault. */
  readonly variable: string;

  constructor(variable: string, message: string) {
    super(`Cannot start: ${variable} ${message}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

const encoder = new TextEncoder();

// An origin is a scheme, host and port with nothing after (RFC 6454).
function isOrigin(text: string): boolean {
  try {
    const url = new URL(text);
    return /^https?:$/.test(url.protocol) && url.origin === text;
  } catch {
    return false;
  }
}

/** The most hashing workers the configuration accepts. */
const MAX_HASH_WORKERS = 64;

/**
 * One hashing worker per CPU, as bcrypt is all CPU, but never more than
 * may be configured: a large machine must still start with the default.
 */
export function defaultHashWorkers(
  cpus = globalThis.navigator?.hardwareConcurrency ?? 1,
): number {
  return Math.min(MAX_HASH_WORKERS, Math.max(1, cpus));
}

function duration(fallback: string, min: number) {
  return z.string().default(fallback).transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined || ms < min) {
      ctx.addIssue({
        code: "custom",
        message: `must be a duration such as "30m", "10h" or "45s", ` +
          `at least ${min / 1000}s, got "${text}"`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

function integer(fallback: number, min: number, max: number) {
  return z.string().default(String(fallback)).transform((text, ctx) => {
    const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
    if (!(value >= min && value <= max)) {
      ctx.addIssue({
        code: "custom",
        message: `must be a whole number from ${min} to ${max}, got "${text}"`,
      });
      return z.NEVER;
    }
    return value;
  });
}

// HOSTNAME doubles as a shell variable naming the machine, so only an
// address is taken: a machine name would silently listen somewhere else.
// An IPv6 address needs its colon, or a hex-only name such as a Docker
// container id would pass.
const IPV4 =
  "(?:(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)\\.){3}(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)";
const HOST = new RegExp(
  `^(localhost|${IPV4}|\\[?[0-9a-fA-F]*:[0-9a-fA-F:.]*\\]?)$`,
);

const ENV_SCHEMA = z.object({
  APP_SECRET_STRING: z.string().optional().transform((text, ctx) => {
    if (text === undefined) return undefined;
    const bytes = encoder.encode(text);
    if (bytes.length < 32) {
      ctx.addIssue({
        code: "custom",
        message: `must be at least 32 bytes, got ${bytes.length}`,
      });
      return z.NEVER;
    }
    return bytes;
  }),
  PORT: integer(DEFAULTS.port, 0, 65535),
  HOSTNAME: z.string().default(DEFAULTS.hostname).refine(
    (text) => HOST.test(text),
    { message: 'must be an IP address or "localhost"' },
  ).transform((text) => text.replace(/^\[(.*)\]$/, "$1")),
  KV_PATH: z.string().optional(),
  ACCESS_TOKEN_TTL: duration(DEFAULTS.accessTokenTtl, 1_000),
  REFRESH_TOKEN_TTL: duration(DEFAULTS.refreshTokenTtl, 1_000),
  BCRYPT_COST: integer(DEFAULTS.bcryptCost, 4, 31),
  PASSWORD_MIN_LENGTH: integer(DEFAULTS.passwordMinLength, 8, 72),
  REFRESH_REUSE_INTERVAL: duration(DEFAULTS.refreshReuseInterval, 0),
  HASH_WORKERS: integer(defaultHashWorkers(), 0, MAX_HASH_WORKERS),
  HASH_QUEUE_LIMIT: integer(DEFAULTS.hashQueueLimit, 1, 100_000),
  LOGIN_MAX_FAILURES: integer(DEFAULTS.loginMaxFailures, 1, 1000),
  LOGIN_MAX_FAILURES_PER_ADDRESS: integer(
    DEFAULTS.loginMaxFailuresPerAddress,
    1,
    100_000,
  ),
  LOGIN_WINDOW: duration(DEFAULTS.loginWindow, 1_000),
  SIGNUP_MAX_PER_ADDRESS: integer(DEFAULTS.signupMaxPerAddress, 1, 100_000),
  ALLOWED_ORIGINS: z.string().default("").transform((text, ctx) => {
    const origins = text.split(",").map((part) => part.trim()).filter(Boolean);
    for (const origin of origins) {
      if (!isOrigin(origin)) {
        ctx.addIssue({
          code: "custom",
          message: `must list origins such as "https://app.example", ` +
            `got "${origin}"`,
        });
        return z.NEVER;
      }
    }
    return origins;
  }),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"], {
    error: (issue) =>
      `must be debug, info, warn or error, got "${String(issue.input)}"`,
  }).default(DEFAULTS.logLevel),
});

/** Options for {@linkcode parseConfig}. */
export interface ParseConfigOptions {
  /** Where Deno KV lives when `KV_PATH` is unset. */
  defaultKvPath?: string | undefined;
}

/**
 * Validates the environment and turns it into a {@linkcode Config}.
 *
 * @example Usage
 * ```ts
 * const config = parseConfig({ PORT: "9000" });
 * config.port; // 9000
 * ```
 * @throws {ConfigError} naming the first variable whose value is unusable.
 */
export function parseConfig(
  env: Env,
  options: ParseConfigOptions = {},
): Config {
  // An empty value, as a copied `.env.example` line leaves it, means unset.
  const given = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== ""),
  );
  const result = ENV_SCHEMA.safeParse(given);
  if (!result.success) {
    const issue = result.error.issues[0];
    const variable = String(issue?.path[0] ?? "environment");
    throw new ConfigError(variable, issue?.message ?? "is invalid");
  }
  const vars = result.data;
  // On Deno Deploy the platform's own KV is the store, opened without a
  // path; and a production service there must not sign with a secret that
  // nobody configured and nobody can rotate, so one has to be set.
  const onDeploy = Boolean(env.DENO_DEPLOYMENT_ID);
  if (onDeploy && !vars.APP_SECRET_STRING) {
    throw new ConfigError(
      "APP_SECRET_STRING",
      "must be set on Deno Deploy (at least 32 bytes)",
    );
  }
  const defaultKvPath = onDeploy
    ? undefined
    : "defaultKvPath" in options
    ? options.defaultKvPath
    : DEFAULTS.kvPath;
  return {
    secret: vars.APP_SECRET_STRING,
    port: vars.PORT,
    hostname: vars.HOSTNAME,
    kvPath: vars.KV_PATH ?? defaultKvPath,
    accessTokenTtlMs: vars.ACCESS_TOKEN_TTL,
    refreshTokenTtlMs: vars.REFRESH_TOKEN_TTL,
    bcryptCost: vars.BCRYPT_COST,
    passwordMinLength: vars.PASSWORD_MIN_LENGTH,
    refreshReuseIntervalMs: vars.REFRESH_REUSE_INTERVAL,
    logLevel: vars.LOG_LEVEL,
    hashWorkers: vars.HASH_WORKERS,
    hashQueueLimit: vars.HASH_QUEUE_LIMIT,
    loginMaxFailures: vars.LOGIN_MAX_FAILURES,
    loginMaxFailuresPerAddress: vars.LOGIN_MAX_FAILURES_PER_ADDRESS,
    loginWindowMs: vars.LOGIN_WINDOW,
    signupMaxPerAddress: vars.SIGNUP_MAX_PER_ADDRESS,
    allowedOrigins: vars.ALLOWED_ORIGINS,
  };
}

/**
 * Reads the service's variables from the process environment.
 *
 * Requires `--allow-env` for the names in {@linkcode ENV_VARS}.
 */
export function readEnv(): Env {
  const env: Env = {};
  for (const name of ENV_VARS) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
