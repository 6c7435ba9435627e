/**
 * Tests of `deno task compile`. Without a `denort` (Deno's runtime build,
 * which `deno compile` downloads or reads from the file named by
 * `DENORT_BIN`) the task must stop at once with its message; that is
 * tested always, with `DENORT_BIN` naming a file that does not exist, so
 * nothing is downloaded. The executable itself is built and run only where
 * `DENORT_BIN` names a real `denort`; elsewhere that test is ignored, and
 * its name says why.
 *
 * @module
 */
import assert from "node:assert/strict";
import { assertTokenPair, JSON_TYPE } from "./_assertions.ts";
import {
  type DenoProcess,
  freePort,
  hasStackTrace,
  type OutputLine,
  ROOT,
  spawnDeno,
  spawnProcess,
} from "./_deno_process.ts";
import { bearer, json, PASSWORD, randomUsername } from "./_helpers.ts";

const NO_DENORT_MESSAGE =
  "deno compile needs the denort runtime: it downloads it, or reads the file named by DENORT_BIN; see README, Single executable";
const TOP_SECRET = "Top Secret data only authorized users can access this info";
const DIST = new URL("dist/", ROOT);

/** A temporary directory, removed with everything in it on dispose. */
async function makeTempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "compile_test_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

async function exists(path: string | URL): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function listDir(path: string | URL): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(path)) names.push(entry.name);
  return names.sort();
}

/** Options for {@linkcode compileArgs}. */
interface CompileOptions {
  /** Where the executable goes, in place of the task's `dist/`. */
  output: string;
  /** The one port it may listen on, in place of the task's 8000. */
  port?: number;
}

function replaceFlag(args: string[], flag: string, value: string): string[] {
  const at = args.findIndex((arg) => arg.startsWith(`${flag}=`));
  assert.notEqual(at, -1, `the compile task has no ${flag}`);
  return args.with(at, `${flag}=${value}`);
}

/**
 * The compile task's own `deno compile` arguments, read from `deno.json`
 * so that they cannot drift from it, with only the output and the port
 * changed. Arguments given to `deno task` land after its fallback `echo`,
 * so they cannot change these.
 */
async function compileArgs(options: CompileOptions): Promise<string[]> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const task = String(config.tasks.compile);
  const words = (task.split(" || ")[0] ?? "").split(" ");
  assert.deepEqual(words.slice(0, 2), ["deno", "compile"], task);
  assert.equal(words.at(-1), "main.ts", task);
  let args = replaceFlag(words.slice(1), "--output", options.output);
  if (options.port !== undefined) {
    args = replaceFlag(args, "--allow-net", `127.0.0.1:${options.port}`);
  }
  return args;
}

/** A `DENORT_BIN` to build with, or why there is none. */
type Denort = { path: string } | { reason: string };

// A base binary that is the whole CLI yields an executable that acts as
// plain `deno`; only the CLI evaluates code given on its command line.
async function actsAsDenoCli(path: string): Promise<boolean> {
  const marker = "this is the deno CLI";
  const output = await new Deno.Command(path, {
    args: ["eval", `console.log(${JSON.stringify(marker)})`],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
    signal: AbortSignal.timeout(10_000),
  }).output().catch(() => undefined);
  if (!output) return false;
  return new TextDecoder().decode(output.stdout).trim() === marker;
}

async function findDenort(path: string | undefined): Promise<Denort> {
  if (!path) return { reason: "DENORT_BIN is unset" };
  const info = await Deno.stat(path).catch(() => undefined);
  if (!info?.isFile) return { reason: `DENORT_BIN names no file: "${path}"` };
  if (await actsAsDenoCli(path)) {
    return { reason: `DENORT_BIN names the deno CLI, not denort: "${path}"` };
  }
  return { path };
}

const DENORT = await findDenort(Deno.env.get("DENORT_BIN"));

Deno.test("deno task compile without denort exits 1 at once with its message", async (t) => {
  await using dir = await makeTempDir();
  const missing = `${dir.path}/no-denort`;
  const cause = `Could not find denort at '${missing}'`;

  await t.step(
    "deno task compile: the message, and nothing left in dist/",
    async () => {
      const hadDist = await exists(DIST);
      try {
        await using child = spawnDeno(["task", "compile"], {
          env: { DENORT_BIN: missing },
          timeoutMs: 30_000,
        });

        const { code, timedOut, lines, stderr } = await child.finished();

        assert.equal(timedOut, false);
        assert.equal(code, 1, stderr);
        assert.deepEqual(lines, [{ text: NO_DENORT_MESSAGE }]);
        // The task prints its message after any failure of deno compile, so
        // the cause is checked too: a type error must not pass for this.
        assert.ok(stderr.includes(cause), stderr);
        if (hadDist) {
          const names = await listDir(DIST);
          assert.deepEqual(names.filter((name) => name.includes(".tmp-")), []);
        }
      } finally {
        // deno compile makes the output's folder before it needs denort;
        // removing it fails if anything was left in it.
        if (!hadDist && await exists(DIST)) await Deno.remove(DIST);
      }
    },
  );

  await t.step(
    "the task's invocation with another output: writes nothing there",
    async () => {
      const output = `${dir.path}/auth-service`;
      await using child = spawnDeno(await compileArgs({ output }), {
        env: { DENORT_BIN: missing },
        timeoutMs: 30_000,
      });

      const { code, timedOut, stderr } = await child.finished();

      assert.equal(timedOut, false);
      assert.equal(code, 1, stderr);
      assert.ok(stderr.includes(cause), stderr);
      assert.deepEqual(await listDir(dir.path), []);
    },
  );
});

const SECRET_STRING = "compile-test-signing-secret-of-40-bytes--";

/** Builds the executable with the task's flags and `denort`. */
async function buildExecutable(
  denort: string,
  options: CompileOptions,
): Promise<string> {
  await using child = spawnDeno(await compileArgs(options), {
    env: { DENORT_BIN: denort },
    timeoutMs: 120_000,
  });
  const { code, timedOut, stderr } = await child.finished();
  assert.equal(timedOut, false);
  assert.equal(code, 0, stderr);
  return options.output;
}

/** Runs the executable in `cwd`, configured by its environment alone. */
function runExecutable(
  executable: string,
  cwd: string,
  env: Record<string, string>,
): DenoProcess {
  return spawnProcess(executable, [], {
    cwd,
    env: {
      APP_SECRET_STRING: SECRET_STRING,
      BCRYPT_COST: "4",
      HASH_WORKERS: "2",
      ...env,
    },
  });
}

function withoutTime(line: OutputLine | undefined): OutputLine {
  assert.ok(line);
  const { time, ...rest } = line;
  assert.match(String(time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return rest;
}

/** Waits for a start failure and answers its one line's message. */
async function startFailure(child: DenoProcess): Promise<string> {
  const { code, timedOut, lines, stderr } = await child.finished();
  assert.equal(timedOut, false);
  assert.equal(code, 1, stderr);
  assert.equal(hasStackTrace(stderr), false, stderr);
  assert.equal(lines.length, 1, JSON.stringify(lines));
  const { level, msg } = withoutTime(lines[0]);
  assert.equal(level, "error");
  return String(msg);
}

// A compiled binary words Deno's permission errors for its builder, and
// the service says that the grants are built in.
function missingGrant(flag: string): RegExp {
  return new RegExp(
    "^Cannot start: a permission is missing: Requires .+, specify the required permissions during compilation using `deno compile " +
      flag +
      '`; the executable\'s permissions were fixed when it was built: keep PORT, HOSTNAME and KV_PATH within them, or add that flag to the "compile" task in deno.json and build it again$',
  );
}

async function servesAndRefuses(
  t: Deno.TestContext,
  denort: string,
): Promise<void> {
  await using dir = await makeTempDir();
  // The task grants 127.0.0.1:8000 alone, and something may hold that
  // port here; so this build moves the grant to a port that was free.
  const port = freePort();
  const executable = await buildExecutable(denort, {
    output: `${dir.path}/auth-service`,
    port,
  });

  await t.step(
    "signup, login and /secret, with the store in ./data of its folder",
    async () => {
      await using child = runExecutable(executable, dir.path, {
        PORT: String(port),
        KV_PATH: "./data/auth.kv",
      });
      const started = await child.waitForLine((line) => line.msg === "Started");
      const origin = `http://127.0.0.1:${port}`;
      const username = randomUsername();

      const signup = await fetch(
        `${origin}/signup`,
        json({ username, password: PASSWORD }),
      );
      assert.equal(signup.status, 201);
      await signup.body?.cancel();
      const login = await fetch(
        `${origin}/login`,
        json({ username, password: PASSWORD }),
      );
      const tokens = await assertTokenPair(login);
      const secret = await fetch(
        `${origin}/secret`,
        bearer(tokens.access_token),
      );
      assert.equal(secret.status, 200);
      assert.equal(secret.headers.get("content-type"), JSON_TYPE);
      assert.equal(await secret.json(), TOP_SECRET);

      child.kill("SIGTERM");
      const { code, timedOut, lines, stderr } = await child.finished();
      assert.equal(timedOut, false);
      assert.equal(code, 0, stderr);
      assert.equal(hasStackTrace(stderr), false, stderr);
      assert.equal(started.address, origin);
      assert.equal(started.store, "./data/auth.kv");
      assert.equal(started.secret, "configured");
      // The hashing workers load from the executable, not from src/.
      assert.equal(started.hash_workers, 2);
      assert.deepEqual(lines.filter((line) => line.level !== "info"), []);
      assert.deepEqual(
        lines.filter((line) => line.msg === "request").map((line) => line.path),
        ["/signup", "/login", "/secret"],
      );
      assert.ok((await Deno.stat(`${dir.path}/data/auth.kv`)).isFile);
    },
  );

  await t.step(
    "a store outside ./data: exits 1 naming --allow-write, makes nothing",
    async () => {
      await using child = runExecutable(executable, dir.path, {
        PORT: String(port),
        KV_PATH: "./elsewhere/auth.kv",
      });

      const message = await startFailure(child);

      assert.match(message, missingGrant("--allow-write"));
      assert.equal(await exists(`${dir.path}/elsewhere`), false);
    },
  );

  await t.step(
    "a port outside its grant: exits 1 naming --allow-net",
    async () => {
      // Port 0, any port the system picks, is not the one granted.
      await using child = runExecutable(executable, dir.path, {
        PORT: "0",
        KV_PATH: ":memory:",
      });

      const message = await startFailure(child);

      assert.match(message, missingGrant("--allow-net"));
    },
  );
}

const EXECUTABLE_TEST =
  "deno task compile's executable serves signup, login and /secret, and is refused a store outside ./data and another port";

Deno.test({
  name: "path" in DENORT
    ? EXECUTABLE_TEST
    : `${EXECUTABLE_TEST} [ignored: ${DENORT.reason}; set it to a denort of Deno ${Deno.version.deno} to run this]`,
  ignore: !("path" in DENORT),
  fn: async (t) => {
    assert.ok("path" in DENORT);
    await servesAndRefuses(t, DENORT.path);
  },
});
