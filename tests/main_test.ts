import assert from "node:assert/strict";
import { assertTokenPair, JSON_TYPE, PROBLEM_TYPE } from "./_assertions.ts";
import {
  type DenoProcess,
  freePort,
  hasStackTrace,
  makeDataDir,
  type OutputLine,
  spawnDeno,
} from "./_deno_process.ts";
import { randomUsername } from "./_helpers.ts";

const SECRET_STRING = "main-test-signing-secret-of-40-bytes-----";
const TOP_SECRET = "Top Secret data only authorized users can access this info";
const PASSWORD = "correct horse battery";

const BASE_ENV: Record<string, string> = {
  APP_SECRET_STRING: SECRET_STRING,
  BCRYPT_COST: "4",
  HASH_WORKERS: "2",
  KV_PATH: ":memory:",
  PORT: "0",
};

// The declared set with its listen grant moved to the port the system
// picks: a given --allow-net replaces the set's own, so nothing is added
// and a server on 8000 cannot get in the way.
const DECLARED = ["run", "-P", "--allow-net=127.0.0.1:0", "main.ts"];

function startService(
  env: Record<string, string> = {},
  args = DECLARED,
): DenoProcess {
  return spawnDeno(args, { env: { ...BASE_ENV, ...env } });
}

/** Waits for the start line and answers the address it reports. */
async function addressOf(child: DenoProcess): Promise<string> {
  const line = await child.waitForLine((line) => line.msg === "Started");
  return String(line.address);
}

function postJson(body: unknown): RequestInit {
  return {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

async function signUp(origin: string, username: string): Promise<void> {
  const response = await fetch(
    `${origin}/signup`,
    postJson({ username, password: PASSWORD }),
  );
  assert.equal(response.status, 201);
  await response.body?.cancel();
}

/** Stops a child with SIGTERM and asserts it stopped cleanly. */
async function stopCleanly(child: DenoProcess): Promise<OutputLine[]> {
  child.kill("SIGTERM");
  const { code, timedOut, lines, stderr } = await child.finished();
  assert.equal(timedOut, false);
  assert.equal(code, 0, stderr);
  assert.equal(hasStackTrace(stderr), false, stderr);
  return lines;
}

function withoutTime(line: OutputLine | undefined): OutputLine {
  assert.ok(line);
  const { time, ...rest } = line;
  assert.match(String(time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return rest;
}

function startedLine(
  secret: string,
  overrides: OutputLine = {},
): OutputLine {
  return {
    level: "info",
    msg: "Started",
    version: "1.0.0",
    address: "",
    store: ":memory:",
    access_token_ttl_s: 1800,
    refresh_token_ttl_s: 36000,
    bcrypt_cost: 4,
    hash_workers: 2,
    secret,
    ...overrides,
  };
}

function assertStartLine(
  line: OutputLine | undefined,
  expected: OutputLine,
): void {
  const fields = withoutTime(line);
  assert.match(String(fields.address), /^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
  assert.deepEqual({ ...fields, address: "" }, expected);
}

/** Starts the service and stops it at once; answers all it printed. */
async function startAndStop(
  env: Record<string, string>,
): Promise<OutputLine[]> {
  await using child = startService(env);
  await addressOf(child);
  return await stopCleanly(child);
}

Deno.test("main.ts logs one start line that describes the service", async (t) => {
  const env = { ACCESS_TOKEN_TTL: "15m" };
  const ttl = { access_token_ttl_s: 900 };

  await t.step("APP_SECRET_STRING set: secret configured", async () => {
    const lines = await startAndStop(env);

    assertStartLine(lines[0], startedLine("configured", ttl));
    assert.equal(lines.filter((line) => line.msg === "Started").length, 1);
    assert.deepEqual(lines.filter((line) => line.level !== "info"), []);
  });

  await t.step(
    "APP_SECRET_STRING unset on a new store: secret generated, with a warning",
    async () => {
      const lines = await startAndStop({ ...env, APP_SECRET_STRING: "" });

      assertStartLine(lines[0], startedLine("generated", ttl));
      assert.deepEqual(withoutTime(lines[1]), {
        level: "warn",
        msg:
          "APP_SECRET_STRING is unset: generated a signing secret and kept it in the store",
      });
    },
  );

  await t.step(
    "APP_SECRET_STRING unset on a store that has one: secret stored, with a warning",
    async () => {
      await using dir = await makeDataDir();
      const store = `${dir.path}/auth.kv`;
      const restart = { ...env, APP_SECRET_STRING: "", KV_PATH: store };

      const first = await startAndStop(restart);
      const second = await startAndStop(restart);

      assertStartLine(first[0], startedLine("generated", { ...ttl, store }));
      assertStartLine(second[0], startedLine("stored", { ...ttl, store }));
      assert.deepEqual(withoutTime(second[1]), {
        level: "warn",
        msg:
          "APP_SECRET_STRING is unset: using the signing secret kept in the store",
      });
    },
  );
});

Deno.test("main.ts finishes a login in flight on SIGTERM, then exits 0", async () => {
  // At cost 13 a login spends most of a second in bcrypt, long enough to
  // stop the process while it is in flight.
  await using child = startService({ BCRYPT_COST: "13" });
  const origin = await addressOf(child);
  const username = randomUsername();
  await signUp(origin, username);

  let answered = false;
  const login = fetch(
    `${origin}/login`,
    postJson({ username, password: PASSWORD }),
  ).finally(() => answered = true);
  // Should an assertion fail first, the kill on dispose rejects it unseen.
  login.catch(() => {});
  // Nothing outside the process tells when it has read the request; a
  // short wait does, and the check below proves the wait was short enough.
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(answered, false, "the login ended before the signal");
  child.kill("SIGTERM");

  await assertTokenPair(await login);
  const { code, timedOut, lines, stderr } = await child.finished();
  assert.equal(timedOut, false);
  assert.equal(code, 0, stderr);
  const events = lines.map((line) =>
    line.msg === "request" ? `${line.path} ${line.status}` : line.msg
  );
  assert.deepEqual(events, [
    "Started",
    "/signup 201",
    "Stopping: finishing requests in flight",
    "/login 200",
    "Stopped",
  ]);
});

Deno.test("main.ts exits 1 with one line naming the variable when the configuration is invalid", async (t) => {
  const cases: [string, string, string][] = [
    ["BCRYPT_COST", "99", 'must be a whole number from 4 to 31, got "99"'],
    ["PORT", "70000", 'must be a whole number from 0 to 65535, got "70000"'],
    ["HOSTNAME", "my-laptop", 'must be an IP address or "localhost"'],
    ["APP_SECRET_STRING", "short-secret", "must be at least 32 bytes, got 12"],
  ];
  for (const [variable, value, problem] of cases) {
    await t.step(`${variable}=${value}`, async () => {
      await using child = startService({ [variable]: value });

      const { code, lines, stderr } = await child.finished();

      assert.equal(code, 1);
      assert.deepEqual(lines.map(withoutTime), [{
        level: "error",
        msg: `Cannot start: ${variable} ${problem}`,
      }]);
      assert.equal(hasStackTrace(stderr), false, stderr);
      // A refused secret is named, never shown.
      assert.equal(stderr.includes("short-secret"), false);
    });
  }
});

// A read grant of ./data alone keeps the hashing workers from loading.
const NO_WORKERS = "--allow-read=./data";

const WORKERS_REFUSED = {
  level: "warn",
  msg: "Hashing workers unavailable: hashing on the serving thread",
  reason: "Can't escalate parent thread permissions",
};

Deno.test("main.ts exits 1 when its port is taken", async (t) => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = String(taken.addr.port);
  const allowNet = `--allow-net=127.0.0.1:${port}`;
  const inUse = {
    level: "error",
    msg: "Cannot listen: the address is in use; set PORT or HOSTNAME",
  };
  try {
    await t.step("one line saying what to change", async () => {
      await using child = startService(
        { PORT: port },
        ["run", "-P", allowNet, "main.ts"],
      );

      const { code, lines, stderr } = await child.finished();

      assert.equal(code, 1);
      assert.deepEqual(lines.map(withoutTime), [inUse]);
      assert.equal(hasStackTrace(stderr), false, stderr);
    });

    await t.step("after the warnings written before it", async () => {
      await using child = startService(
        { PORT: port },
        ["run", "-P", allowNet, NO_WORKERS, "main.ts"],
      );

      const { code, lines, stderr } = await child.finished();

      assert.equal(code, 1);
      assert.deepEqual(lines.map(withoutTime), [WORKERS_REFUSED, inUse]);
      assert.equal(hasStackTrace(stderr), false, stderr);
    });
  } finally {
    taken.close();
  }
});

Deno.test("main.ts hashes on the serving thread when its workers may not load", async () => {
  await using child = startService({}, [
    ...DECLARED.slice(0, -1),
    NO_WORKERS,
    "main.ts",
  ]);
  const origin = await addressOf(child);
  const username = randomUsername();

  await signUp(origin, username);
  const login = await fetch(
    `${origin}/login`,
    postJson({ username, password: PASSWORD }),
  );
  await assertTokenPair(login);

  const lines = await stopCleanly(child);
  assert.deepEqual(withoutTime(lines[0]), WORKERS_REFUSED);
  assertStartLine(lines[1], startedLine("configured", { hash_workers: 0 }));
});

Deno.test("main.ts serves signup, login and /secret under the declared permissions", async () => {
  // The store in ./data, the one place the set lets it write.
  await using dir = await makeDataDir();
  await using child = startService({ KV_PATH: `${dir.path}/auth.kv` });
  const origin = await addressOf(child);
  const username = randomUsername();

  await signUp(origin, username);
  const login = await fetch(
    `${origin}/login`,
    postJson({ username, password: PASSWORD }),
  );
  const tokens = await assertTokenPair(login);
  const secret = await fetch(`${origin}/secret`, {
    headers: { authorization: `Bearer ${tokens.access_token}` },
  });
  assert.equal(secret.status, 200);
  assert.equal(secret.headers.get("content-type"), JSON_TYPE);
  assert.equal(await secret.json(), TOP_SECRET);

  const lines = await stopCleanly(child);
  assert.deepEqual(lines.filter((line) => line.level !== "info"), []);
  const requests = lines.filter((line) => line.msg === "request");
  assert.deepEqual(
    requests.map(({ path, status, user }) => ({ path, status, user })),
    [
      { path: "/signup", status: 201, user: undefined },
      { path: "/login", status: 200, user: undefined },
      { path: "/secret", status: 200, user: username },
    ],
  );
});

Deno.test(
  "main.ts runs its hashing workers below the serving thread's priority",
  {
    ignore: Deno.build.os !== "linux",
  },
  async () => {
    await using child = startService();
    await addressOf(child);

    // Deno reads /proc only with every permission, so ps reads it for us.
    const ps = await new Deno.Command("ps", {
      args: ["-L", "-o", "ni=,comm=", "-p", String(child.pid)],
      stdout: "piped",
    }).output();
    const threads = new TextDecoder().decode(ps.stdout).trim().split("\n")
      .map((line) => line.trim().split(/\s+/))
      .map(([nice, name]) => ({ nice: Number(nice), name }));

    const workers = threads.filter(({ name }) => name?.startsWith("worker-"));
    assert.deepEqual(workers.map(({ nice }) => nice), [10, 10]);
    assert.equal(threads[0]?.nice, 0);
    await stopCleanly(child);
  },
);

Deno.test("main.ts exits 1 naming the flag when a permission is missing", async (t) => {
  const cases: [string, Record<string, string>, string][] = [
    ["a port outside the grant", {}, "--allow-net"],
    [
      "a store outside ./data",
      { KV_PATH: "./elsewhere/auth.kv" },
      "--allow-write",
    ],
  ];
  for (const [name, env, flag] of cases) {
    await t.step(name, async () => {
      await using child = startService(env, ["run", "-P", "main.ts"]);

      const { code, lines, stderr } = await child.finished();

      assert.equal(code, 1);
      assert.equal(lines.length, 1);
      const { level, msg } = withoutTime(lines[0]);
      assert.equal(level, "error");
      assert.match(
        String(msg),
        /^Cannot start: a permission is missing: Requires .+, run again with the --allow-\w+ flag; grant it in deno\.json's "permissions" or with that flag$/,
      );
      assert.ok(String(msg).includes(`the ${flag} flag`), String(msg));
      assert.equal(hasStackTrace(stderr), false, stderr);
    });
  }
  await t.step("nothing was made outside ./data", async () => {
    await assert.rejects(
      Deno.stat(new URL("../elsewhere", import.meta.url)),
      Deno.errors.NotFound,
    );
  });
});

Deno.test("the declared permission set denies everything the service does not need", async () => {
  await using child = spawnDeno(["run", "-P", "tests/_permission_probe.ts"], {
    env: { PORT: "8000" },
  });

  const { code, lines, stderr } = await child.finished();

  assert.equal(code, 0, stderr);
  const outcomes = Object.fromEntries(
    lines.map((line) => [line.probe, line.outcome]),
  );
  assert.deepEqual(outcomes, {
    "read deno.json": "denied",
    "read /etc/hostname": "denied",
    "read ./data/../deno.json": "denied",
    "env HOME": "denied",
    "env all": "denied",
    "run true": "denied",
    "sys hostname": "denied",
    "fetch http://example.invalid/": "denied",
    "connect probe.invalid:80": "denied",
    "listen 0.0.0.0:8000": "denied",
    "write ./probe.txt": "denied",
    "write ./data/../probe.txt": "denied",
    "write a temporary file": "denied",
    "env PORT": "allowed",
    "read ./src/passwords.ts": "allowed",
    "sys setPriority": "allowed",
    "write in ./data": "allowed",
  });
});

Deno.test("main.ts's default export answers a request with no server running", async (t) => {
  const probe = ["run", "-P", "tests/_default_export_probe.ts"];

  await t.step("GET /notsecret: 200 Not secret data", async () => {
    await using child = spawnDeno(probe, { env: BASE_ENV });

    const { code, lines, stderr } = await child.finished();

    assert.equal(code, 0, stderr);
    assert.deepEqual(lines.at(-1), {
      status: 200,
      content_type: JSON_TYPE,
      body: '"Not secret data"',
    });
  });

  await t.step(
    "an invalid configuration: 503 without the reason",
    async () => {
      await using child = spawnDeno(probe, {
        env: { ...BASE_ENV, BCRYPT_COST: "99" },
      });

      const { code, lines, stderr } = await child.finished();

      assert.equal(code, 0, stderr);
      const answer = lines.at(-1);
      assert.equal(answer?.status, 503);
      assert.equal(answer?.content_type, PROBLEM_TYPE);
      assert.deepEqual(JSON.parse(String(answer?.body)), {
        type: "about:blank",
        title: "Service Unavailable",
        status: 503,
        detail: "Service is not configured correctly",
      });
    },
  );
});

Deno.test("main.ts with LOG_LEVEL=warn writes no request lines", async () => {
  // No start line at this level, so the port is chosen here and the
  // generated-secret warning says when the server is up.
  const port = String(freePort());
  await using child = startService(
    { LOG_LEVEL: "warn", APP_SECRET_STRING: "", PORT: port },
    ["run", "-P", `--allow-net=127.0.0.1:${port}`, "main.ts"],
  );
  await child.waitForLine((line) => line.level === "warn");

  const response = await fetch(`http://127.0.0.1:${port}/notsecret`);
  assert.equal(response.status, 200);
  await response.body?.cancel();
  const missing = await fetch(`http://127.0.0.1:${port}/nowhere`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();

  const lines = await stopCleanly(child);
  assert.deepEqual(lines.map((line) => [line.level, line.msg]), [[
    "warn",
    "APP_SECRET_STRING is unset: generated a signing secret and kept it in the store",
  ]]);
});
