/**
 * The HTTP benchmark: the service and a bare `Deno.serve` that answers a
 * constant, driven by `wrk` on 127.0.0.1 in one run, every figure also
 * given as a ratio to the bare server measured in the same run, so the
 * figures say something on a shared, noisy machine. Run with
 * `deno task bench`.
 *
 * @module
 */
import { createPasswordHasher } from "../src/passwords.ts";

const DENO = Deno.execPath();
const ROOT = new URL("../", import.meta.url);
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 3);
// Figures are taken in alternating rounds and the median kept: a shared
// machine's noise moves single runs by a third.
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const LOGIN_USERS = 8;
const HASH_WORKERS = Deno.env.get("HASH_WORKERS");
// The start task's V8 flags, unless a run tries others.
const V8_FLAGS = Deno.env.get("BENCH_V8_FLAGS") ?? "--max-semi-space-size=2";
const CONNECTIONS = 16;
const LOGIN_CONNECTIONS = 4;
const COST = 12;
const CORES = navigator.hardwareConcurrency;
const PASSWORD = "bench password 1";

interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

interface Target {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  /** One body, or several sent in turn. */
  body?: string | string[];
}

const scratch = await Deno.makeTempDir({ prefix: "auth-bench-" });
const children: Deno.ChildProcess[] = [];

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function ensureWrk(): Promise<void> {
  if (await runs("wrk", ["--version"])) return;
  const root = Deno.uid?.() === 0;
  if (root && await runs("apt-get", ["--version"])) {
    log("wrk is missing: installing it with apt-get");
    await runs("apt-get", ["update", "-qq"]);
    if (await runs("apt-get", ["install", "-y", "-qq", "wrk"])) return;
  }
  throw new Error(
    "The benchmark needs wrk, the HTTP load generator: install it with " +
      "`apt-get install wrk` (Debian, Ubuntu) or `brew install wrk` (macOS)",
  );
}

async function runs(command: string, args: string[]): Promise<boolean> {
  try {
    const output = await new Deno.Command(command, {
      args,
      stdout: "null",
      stderr: "null",
    }).output();
    // wrk --version exits 1 after printing its version.
    return output.success || command === "wrk";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function log(message: string): void {
  // deno-lint-ignore no-console -- the benchmark reports to the terminal.
  console.error(message);
}

function spawn(args: string[], env: Record<string, string>) {
  const child = new Deno.Command(DENO, {
    args,
    env,
    cwd: ROOT,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  children.push(child);
  return child;
}

async function waitUntilUp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const response = await fetch(url);
      await response.body?.cancel();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`Cannot reach ${url}: the server did not start`);
}

async function wrk(
  target: Target,
  options: { connections: number; seconds: number },
): Promise<WrkResult> {
  const script = `${scratch}/${crypto.randomUUID()}.lua`;
  const lines = [`wrk.method = "${target.method ?? "GET"}"`];
  for (const [name, value] of Object.entries(target.headers ?? {})) {
    lines.push(`wrk.headers["${name}"] = "${value}"`);
  }
  if (typeof target.body === "string") {
    lines.push(`wrk.body = [[${target.body}]]`);
  } else if (target.body) {
    const list = target.body.map((body) => `[[${body}]]`).join(", ");
    lines.push(
      `local bodies = { ${list} }`,
      "local turn = 0",
      "request = function()",
      "  turn = turn % #bodies + 1",
      "  return wrk.format(nil, nil, nil, bodies[turn])",
      "end",
    );
  }
  await Deno.writeTextFile(script, lines.join("\n"));
  const output = await new Deno.Command("wrk", {
    args: [
      "-t1",
      `-c${options.connections}`,
      `-d${options.seconds}s`,
      "--timeout",
      "10s",
      "--latency",
      "-s",
      script,
      target.url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return parseWrk(new TextDecoder().decode(output.stdout));
}

function parseWrk(text: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const latency = (percent: string) => {
    const match = new RegExp(`^\\s+${percent}%\\s+([\\d.]+)(us|ms|s)`, "m")
      .exec(text);
    if (!match) return NaN;
    const scale = { us: 0.001, ms: 1, s: 1000 }[match[2] as "us" | "ms" | "s"];
    return Number(match[1]) * scale;
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socket =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
      .exec(text);
  const errors = non2xx +
    (socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0);
  return { rps, p50: latency("50"), p99: latency("99"), errors };
}

// Deno grants reading /proc only with every permission, so a child reads
// the peak resident size (VmHWM) for us.
async function peakMemoryMb(pid: number): Promise<number> {
  const output = await new Deno.Command("cat", {
    args: [`/proc/${pid}/status`],
    stdout: "piped",
  }).output();
  const status = new TextDecoder().decode(output.stdout);
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function hashMilliseconds(): Promise<number> {
  const hasher = createPasswordHasher({ cost: COST });
  const hash = await hasher.hash(PASSWORD);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await hasher.verify(PASSWORD, hash);
    times.push(performance.now() - start);
  }
  return median(times);
}

function median(values: number[]): number {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function medianResult(results: WrkResult[]): WrkResult {
  return {
    rps: median(results.map((result) => result.rps)),
    p50: median(results.map((result) => result.p50)),
    p99: median(results.map((result) => result.p99)),
    errors: results.reduce((sum, result) => sum + result.errors, 0),
  };
}

/** Measures each target once per round, in turn, and keeps medians. */
async function alternate(
  targets: Target[],
  options: { connections: number; seconds: number },
): Promise<WrkResult[]> {
  const results: WrkResult[][] = targets.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [index, target] of targets.entries()) {
      results[index]?.push(await wrk(target, options));
    }
  }
  return results.map(medianResult);
}

async function postJson(url: string, body: unknown): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function startBare(
  mode: "plain" | "headers" | "contract",
): { url: string; pid: number } {
  const port = freePort();
  const child = spawn([
    "run",
    `--allow-net=127.0.0.1:${port}`,
    "bench/bare_server.ts",
    String(port),
    mode,
  ], {});
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid };
}

function ratioRow(
  label: string,
  base: number,
  value: number,
  target?: { min?: number; max?: number },
  digits = 0,
): string {
  const ratio = value / base;
  const met = target === undefined ? "" : String(
    (target.min === undefined || ratio >= target.min) &&
      (target.max === undefined || ratio <= target.max),
  );
  const goal = target === undefined
    ? ""
    : target.min !== undefined
    ? `>= ${target.min.toFixed(2)}`
    : `<= ${target.max}`;
  return row([
    label,
    fmt(base, digits),
    fmt(value, digits),
    fmt(ratio, 2),
    goal,
    met,
  ]);
}

async function main(): Promise<void> {
  await ensureWrk();
  const run = { connections: CONNECTIONS, seconds: SECONDS };
  const loginRun = { connections: LOGIN_CONNECTIONS, seconds: SECONDS + 3 };

  log("Timing one bcrypt verification at cost 12 on an idle machine");
  const hashMs = await hashMilliseconds();

  const bare = startBare("plain");
  const bareHeaders = startBare("headers");
  const bareContract = startBare("contract");
  const servicePort = freePort();
  // The same flags as `deno task start`, but the port.
  const service = spawn([
    "run",
    "-P",
    ...(V8_FLAGS ? [`--v8-flags=${V8_FLAGS}`] : []),
    `--allow-net=127.0.0.1:${servicePort}`,
    "main.ts",
  ], {
    PORT: String(servicePort),
    KV_PATH: ":memory:",
    APP_SECRET_STRING: "a-benchmark-secret-that-is-32-bytes-or-more",
    BCRYPT_COST: String(COST),
    LOGIN_MAX_FAILURES: "1000",
    NO_COLOR: "1",
    // The trade-off between login throughput and the serving thread's
    // latency is the pool size: let a run try another.
    ...(HASH_WORKERS ? { HASH_WORKERS } : {}),
  });
  const base = `http://127.0.0.1:${servicePort}`;
  await waitUntilUp(bare.url);
  await waitUntilUp(bareHeaders.url);
  await waitUntilUp(bareContract.url);
  await waitUntilUp(`${base}/healthz`);

  log(`Signing up ${LOGIN_USERS} users`);
  const users = Array.from({ length: LOGIN_USERS }, (_, i) => ({
    username: `bench_user_${i}`,
    password: PASSWORD,
  }));
  for (const user of users) {
    await (await postJson(`${base}/signup`, user)).body?.cancel();
  }
  const login = await (await postJson(`${base}/login`, users[0])).json();
  const bearer = { authorization: `Bearer ${login.access_token}` };
  const loginTarget: Target = {
    url: `${base}/login`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: users.map((user) => JSON.stringify(user)),
  };
  const secretTarget: Target = {
    url: `${base}/secret`,
    method: "POST",
    headers: bearer,
  };
  const barePost = (url: string): Target => ({
    url,
    method: "POST",
    headers: bearer,
  });

  log("Warming up");
  const warm = { connections: CONNECTIONS, seconds: 1 };
  const bareUrls = [bare.url, bareHeaders.url, bareContract.url];
  for (const url of [...bareUrls, `${base}/notsecret`]) {
    await wrk({ url }, warm);
  }
  await wrk(secretTarget, warm);

  log(`Measuring: ${ROUNDS} alternating rounds of ${SECONDS} s per figure`);
  const [bareGet, bareHeadersGet, bareContractGet, notsecret] = await alternate(
    [
      ...bareUrls.map((url) => ({ url })),
      { url: `${base}/notsecret` },
    ],
    run,
  );
  const [barePostResult, bareHeadersPost, bareContractPost, secret] =
    await alternate([...bareUrls.map(barePost), secretTarget], run);
  log("Measuring POST /login at full speed");
  const [logins] = await alternate([loginTarget], loginRun);

  log("Measuring POST /secret while logins run at full speed");
  const underLoad: WrkResult[] = [];
  const loginsDuring: WrkResult[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const background = wrk(loginTarget, loginRun);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    underLoad.push(await wrk(secretTarget, run));
    loginsDuring.push(await background);
  }
  const secretUnderLogins = medianResult(underLoad);
  const loginsUnderSecret = medianResult(loginsDuring);

  const serviceMemory = await peakMemoryMb(service.pid);
  const bareMemory = await peakMemoryMb(bare.pid);
  const loginCeiling = CORES / (hashMs / 1000);
  const all = [
    bareGet,
    bareHeadersGet,
    bareContractGet,
    notsecret,
    barePostResult,
    bareContractPost,
    secret,
  ];
  const results = all.filter((result): result is WrkResult => !!result);
  if (results.length !== all.length || !logins) {
    throw new Error("A measurement is missing");
  }
  const b = (result: WrkResult | undefined) => result as WrkResult;

  const lines = [
    `Machine: ${CORES} cores, ${Deno.build.target}, Deno ${Deno.version.deno}; ` +
    `wrk -t1 -c${CONNECTIONS} (logins -c${LOGIN_CONNECTIONS} over ${LOGIN_USERS} users); ` +
    `median of ${ROUNDS} alternating rounds of ${SECONDS} s; ` +
    `bcrypt cost ${COST}: ${fmt(hashMs, 1)} ms per hash; ` +
    `hash workers: ${HASH_WORKERS ?? CORES}; V8 flags: ${V8_FLAGS || "none"}`,
    "",
    row(["figure", "baseline", "service", "ratio", "target", "met"]),
    row(["---", "---", "---", "---", "---", "---"]),
    ratioRow("GET /notsecret req/s vs bare", b(bareGet).rps, b(notsecret).rps, {
      min: 0.85,
    }),
    ratioRow(
      "GET /notsecret req/s vs bare with the service's headers",
      b(bareHeadersGet).rps,
      b(notsecret).rps,
    ),
    ratioRow(
      "GET /notsecret req/s vs bare keeping the contract",
      b(bareContractGet).rps,
      b(notsecret).rps,
    ),
    ratioRow(
      "GET /notsecret p99 ms vs bare",
      b(bareGet).p99,
      b(notsecret).p99,
      undefined,
      2,
    ),
    ratioRow(
      "POST /secret req/s vs bare",
      b(barePostResult).rps,
      b(secret).rps,
      {
        min: 0.7,
      },
    ),
    ratioRow(
      "POST /secret req/s vs bare with the service's headers",
      b(bareHeadersPost).rps,
      b(secret).rps,
    ),
    ratioRow(
      "POST /secret req/s vs bare keeping the contract",
      b(bareContractPost).rps,
      b(secret).rps,
    ),
    ratioRow(
      "POST /secret p99 ms vs bare",
      b(barePostResult).p99,
      b(secret).p99,
      undefined,
      2,
    ),
    ratioRow(
      "POST /login req/s vs cores / hash time",
      loginCeiling,
      logins.rps,
      { min: 0.8 },
      1,
    ),
    row([
      "POST /login p50 / p99 ms",
      "",
      `${fmt(logins.p50)} / ${fmt(logins.p99)}`,
      "",
      "",
      "",
    ]),
    ratioRow(
      "POST /secret req/s while logins run vs idle",
      b(secret).rps,
      secretUnderLogins.rps,
      { min: 0.35 },
    ),
    ratioRow(
      "POST /secret p99 ms while logins run vs idle",
      b(secret).p99,
      secretUnderLogins.p99,
      { max: 4 },
      2,
    ),
    ratioRow(
      "POST /login req/s meanwhile vs cores / hash time",
      loginCeiling,
      loginsUnderSecret.rps,
      undefined,
      1,
    ),
    ratioRow(
      "peak memory MB vs bare",
      bareMemory,
      serviceMemory,
      undefined,
      1,
    ) +
    "",
    row([
      "peak memory MB, absolute",
      "",
      fmt(serviceMemory, 1),
      "",
      "< 150",
      String(serviceMemory < 150),
    ]),
  ];
  const failures = [...results, secretUnderLogins].reduce(
    (sum, result) => sum + result.errors,
    0,
  );
  if (failures > 0) lines.push("", `Errors or non-2xx answers: ${failures}`);
  // deno-lint-ignore no-console -- the table is the benchmark's output.
  console.log(lines.join("\n"));
}

try {
  await main();
} finally {
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
  }
  await Deno.remove(scratch, { recursive: true });
}
