import assert from "node:assert/strict";
import {
  type Config,
  ConfigError,
  defaultHashWorkers,
  type Env,
  ENV_VARS,
  type EnvVar,
  parseConfig,
  readEnv,
} from "../src/config.ts";

const SECRET = "a-signing-secret-of-32-bytes-abc";

const DEFAULT_CONFIG: Config = {
  secret: undefined,
  port: 8000,
  hostname: "127.0.0.1",
  kvPath: "./data/auth.kv",
  accessTokenTtlMs: 1_800_000,
  refreshTokenTtlMs: 36_000_000,
  bcryptCost: 12,
  passwordMinLength: 8,
  refreshReuseIntervalMs: 10_000,
  logLevel: "info",
  hashWorkers: navigator.hardwareConcurrency,
  hashQueueLimit: 64,
  loginMaxFailures: 5,
  loginMaxFailuresPerAddress: 50,
  loginWindowMs: 900_000,
  signupMaxPerAddress: 20,
  allowedOrigins: [],
};

function configError(env: Env): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `not a ConfigError: ${error}`);
    return error;
  }
  assert.fail(`accepted ${JSON.stringify(env)}`);
}

Deno.test("parseConfig() applies the documented defaults", () => {
  assert.deepEqual(parseConfig({}), DEFAULT_CONFIG);
});

Deno.test("defaultHashWorkers() gives one worker per CPU, at least one and at most 64", () => {
  assert.deepEqual(
    [0, 1, 2, 64, 65, 128].map((cpus) => defaultHashWorkers(cpus)),
    [
      1,
      1,
      2,
      64,
      64,
      64,
    ],
  );
});

Deno.test("parseConfig() treats an empty value as unset", () => {
  const env = Object.fromEntries(ENV_VARS.map((name) => [name, ""]));

  assert.deepEqual(parseConfig(env), DEFAULT_CONFIG);
});

Deno.test("parseConfig() reads every variable", () => {
  const config = parseConfig({
    APP_SECRET_STRING: SECRET,
    PORT: "9000",
    HOSTNAME: "0.0.0.0",
    KV_PATH: ":memory:",
    ACCESS_TOKEN_TTL: "15m",
    REFRESH_TOKEN_TTL: "2d",
    BCRYPT_COST: "10",
    PASSWORD_MIN_LENGTH: "12",
    REFRESH_REUSE_INTERVAL: "0",
    LOG_LEVEL: "debug",
    HASH_WORKERS: "3",
    HASH_QUEUE_LIMIT: "10",
    LOGIN_MAX_FAILURES: "7",
    LOGIN_MAX_FAILURES_PER_ADDRESS: "70",
    LOGIN_WINDOW: "1h",
    SIGNUP_MAX_PER_ADDRESS: "40",
    ALLOWED_ORIGINS: "https://app.example, http://localhost:3000",
  });

  assert.deepEqual(config, {
    secret: new TextEncoder().encode(SECRET),
    port: 9000,
    hostname: "0.0.0.0",
    kvPath: ":memory:",
    accessTokenTtlMs: 900_000,
    refreshTokenTtlMs: 172_800_000,
    bcryptCost: 10,
    passwordMinLength: 12,
    refreshReuseIntervalMs: 0,
    logLevel: "debug",
    hashWorkers: 3,
    hashQueueLimit: 10,
    loginMaxFailures: 7,
    loginMaxFailuresPerAddress: 70,
    loginWindowMs: 3_600_000,
    signupMaxPerAddress: 40,
    allowedOrigins: ["https://app.example", "http://localhost:3000"],
  });
});

Deno.test("parseConfig() accepts the edges of each range", () => {
  const low = parseConfig({
    PORT: "0",
    BCRYPT_COST: "4",
    PASSWORD_MIN_LENGTH: "8",
    ACCESS_TOKEN_TTL: "1s",
    REFRESH_TOKEN_TTL: "1000ms",
  });
  const high = parseConfig({
    PORT: "65535",
    BCRYPT_COST: "31",
    PASSWORD_MIN_LENGTH: "72",
  });

  assert.deepEqual(
    [low.port, low.bcryptCost, low.passwordMinLength],
    [0, 4, 8],
  );
  assert.deepEqual([low.accessTokenTtlMs, low.refreshTokenTtlMs], [
    1000,
    1000,
  ]);
  assert.deepEqual(
    [high.port, high.bcryptCost, high.passwordMinLength],
    [65535, 31, 72],
  );
});

Deno.test("parseConfig() takes an IP address or localhost as HOSTNAME", () => {
  assert.equal(parseConfig({ HOSTNAME: "localhost" }).hostname, "localhost");
  assert.equal(parseConfig({ HOSTNAME: "::1" }).hostname, "::1");
  assert.equal(parseConfig({ HOSTNAME: "[::1]" }).hostname, "::1");
  assert.equal(parseConfig({ HOSTNAME: "fe80::1" }).hostname, "fe80::1");
  assert.equal(parseConfig({ HOSTNAME: "::" }).hostname, "::");
  assert.equal(parseConfig({ HOSTNAME: "10.0.0.7" }).hostname, "10.0.0.7");
});

Deno.test("parseConfig() measures APP_SECRET_STRING in bytes of UTF-8", async (t) => {
  await t.step("32 ASCII bytes are enough", () => {
    assert.equal(parseConfig({ APP_SECRET_STRING: SECRET }).secret?.length, 32);
  });

  await t.step("16 two-byte characters are 32 bytes", () => {
    const secret = "é".repeat(16);

    assert.equal(parseConfig({ APP_SECRET_STRING: secret }).secret?.length, 32);
  });

  await t.step("31 bytes are refused without showing the secret", () => {
    const secret = SECRET.slice(1);

    const error = configError({ APP_SECRET_STRING: secret });

    assert.equal(error.variable, "APP_SECRET_STRING");
    assert.equal(
      error.message,
      "Cannot start: APP_SECRET_STRING must be at least 32 bytes, got 31",
    );
    assert.equal(error.message.includes(secret), false);
  });
});

Deno.test("parseConfig() refuses a bad value with a ConfigError naming the variable", async (t) => {
  const number = (range: string, got: string) =>
    `must be a whole number from ${range}, got "${got}"`;
  const duration = (min: string, got: string) =>
    `must be a duration such as "30m", "10h" or "45s", at least ${min}, got "${got}"`;
  const host = 'must be an IP address or "localhost"';
  const cases: [EnvVar, string, string][] = [
    ["APP_SECRET_STRING", "short", "must be at least 32 bytes, got 5"],
    ["PORT", "http", number("0 to 65535", "http")],
    ["PORT", "-1", number("0 to 65535", "-1")],
    ["PORT", "65536", number("0 to 65535", "65536")],
    ["PORT", "80.5", number("0 to 65535", "80.5")],
    ["PORT", "0x50", number("0 to 65535", "0x50")],
    ["HOSTNAME", "my-laptop", host],
    ["HOSTNAME", "example.com", host],
    ["HOSTNAME", "0.0.0.0:8000 ", host],
    // Docker exports the container id, twelve hex digits, as HOSTNAME.
    ["HOSTNAME", "3f4e5a6b7c8d", host],
    ["HOSTNAME", "cafe", host],
    ["HOSTNAME", "1234", host],
    ["HASH_WORKERS", "-1", number("0 to 64", "-1")],
    ["HASH_QUEUE_LIMIT", "0", number("1 to 100000", "0")],
    ["LOGIN_MAX_FAILURES", "0", number("1 to 1000", "0")],
    ["LOGIN_MAX_FAILURES_PER_ADDRESS", "many", number("1 to 100000", "many")],
    ["LOGIN_WINDOW", "forever", duration("1s", "forever")],
    ["SIGNUP_MAX_PER_ADDRESS", "0", number("1 to 100000", "0")],
    ["SIGNUP_MAX_PER_ADDRESS", "lots", number("1 to 100000", "lots")],
    [
      "ALLOWED_ORIGINS",
      "https://app.example/path",
      'must list origins such as "https://app.example", got "https://app.example/path"',
    ],
    [
      "ALLOWED_ORIGINS",
      "*",
      'must list origins such as "https://app.example", got "*"',
    ],
    ["HOSTNAME", "...", host],
    ["HOSTNAME", "256.1.1.1", host],
    ["ACCESS_TOKEN_TTL", "soon", duration("1s", "soon")],
    ["ACCESS_TOKEN_TTL", "500ms", duration("1s", "500ms")],
    ["ACCESS_TOKEN_TTL", "0", duration("1s", "0")],
    ["ACCESS_TOKEN_TTL", "1.5h", duration("1s", "1.5h")],
    ["REFRESH_TOKEN_TTL", "-10h", duration("1s", "-10h")],
    ["REFRESH_TOKEN_TTL", "999ms", duration("1s", "999ms")],
    ["BCRYPT_COST", "3", number("4 to 31", "3")],
    ["BCRYPT_COST", "32", number("4 to 31", "32")],
    ["BCRYPT_COST", "twelve", number("4 to 31", "twelve")],
    ["PASSWORD_MIN_LENGTH", "7", number("8 to 72", "7")],
    ["PASSWORD_MIN_LENGTH", "73", number("8 to 72", "73")],
    ["REFRESH_REUSE_INTERVAL", "-1s", duration("0s", "-1s")],
    ["REFRESH_REUSE_INTERVAL", "a while", duration("0s", "a while")],
  ];
  for (const [variable, value, message] of cases) {
    await t.step(`${variable}=${JSON.stringify(value)}`, () => {
      const error = configError({ [variable]: value });

      assert.equal(error.name, "ConfigError");
      assert.equal(error.code, "ERR_CONFIG");
      assert.equal(error.variable, variable);
      assert.equal(error.message, `Cannot start: ${variable} ${message}`);
    });
  }

  await t.step('LOG_LEVEL="verbose"', () => {
    const error = configError({ LOG_LEVEL: "verbose" });

    assert.equal(error.variable, "LOG_LEVEL");
    assert.equal(
      error.message,
      'Cannot start: LOG_LEVEL must be debug, info, warn or error, got "verbose"',
    );
  });
});

Deno.test("parseConfig() names the first variable at fault", () => {
  const error = configError({ BCRYPT_COST: "99", PORT: "x" });

  assert.equal(error.variable, "PORT");
});

Deno.test("parseConfig() takes the KV path from KV_PATH or the option", async (t) => {
  await t.step("KV_PATH wins over the option", () => {
    const config = parseConfig({ KV_PATH: "/var/lib/auth.kv" }, {
      defaultKvPath: ":memory:",
    });

    assert.equal(config.kvPath, "/var/lib/auth.kv");
  });

  await t.step("the option applies when KV_PATH is unset or empty", () => {
    const options = { defaultKvPath: ":memory:" };

    assert.equal(parseConfig({}, options).kvPath, ":memory:");
    assert.equal(parseConfig({ KV_PATH: "" }, options).kvPath, ":memory:");
  });

  await t.step("an undefined option leaves the choice to the platform", () => {
    const config = parseConfig({}, { defaultKvPath: undefined });

    assert.equal(config.kvPath, undefined);
  });
});

Deno.test("readEnv() reads only the service's own variables that are set", () => {
  const names = ["PORT", "LOG_LEVEL", "AUTH_TEST_UNRELATED"];
  const saved = new Map(names.map((name) => [name, Deno.env.get(name)]));
  const restore = () => {
    for (const [name, value] of saved) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  };
  try {
    Deno.env.set("PORT", "9123");
    Deno.env.delete("LOG_LEVEL");
    Deno.env.set("AUTH_TEST_UNRELATED", "x");

    const env = readEnv();

    assert.equal(env.PORT, "9123");
    assert.equal(Object.hasOwn(env, "LOG_LEVEL"), false);
    assert.equal(Object.hasOwn(env, "AUTH_TEST_UNRELATED"), false);
    for (const name of Object.keys(env)) {
      assert.ok(ENV_VARS.includes(name as EnvVar), name);
    }
  } finally {
    restore();
  }
});

Deno.test("parseConfig() on Deno Deploy opens the platform's KV and needs a secret", async (t) => {
  await t.step("no secret is a ConfigError naming APP_SECRET_STRING", () => {
    const error = configError({ DENO_DEPLOYMENT_ID: "abc123" });

    assert.equal(error.variable, "APP_SECRET_STRING");
    assert.equal(
      error.message,
      "Cannot start: APP_SECRET_STRING must be set on Deno Deploy (at least 32 bytes)",
    );
  });

  await t.step("no KV_PATH leaves the path to the platform", () => {
    const config = parseConfig({
      DENO_DEPLOYMENT_ID: "abc123",
      APP_SECRET_STRING: SECRET,
    });

    assert.equal(config.kvPath, undefined);
  });

  await t.step("a KV_PATH given is still used", () => {
    const config = parseConfig({
      DENO_DEPLOYMENT_ID: "abc123",
      APP_SECRET_STRING: SECRET,
      KV_PATH: "https://kv.example/db",
    });

    assert.equal(config.kvPath, "https://kv.example/db");
  });
});
