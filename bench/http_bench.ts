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
const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const CONNECTIONS = 16;
const LOGIN_CONNECTIONS = 4;
const COST = 12;
const CORES = navigator.hardwareConcurrency;
const USER = { username: "bench_user", password: "bench password 1" };

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
  body?: string;
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
  if (target.body) lines.push(`wrk.body = [[${target.body}]]`);
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
  const hash = await hasher.hash(USER.password);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    await hasher.verify(USER.password, hash);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[2] ?? NaN;
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

async function main(): Promise<void> {
  await ensureWrk();
  const run = { connections: CONNECTIONS, seconds: SECONDS };

  log("Timing one bcrypt verification at cost 12 on an idle machine");
  const hashMs = await hashMilliseconds();

  const barePort = freePort();
  const bare = spawn([
    "run",
    `--allow-net=127.0.0.1:${barePort}`,
    "bench/bare_server.ts",
    String(barePort),
  ], {});
  const servicePort = freePort();
  const service = spawn([
    "run",
    "-P",
    `--allow-net=127.0.0.1:${servicePort}`,
    "main.ts",
  ], {
    PORT: String(servicePort),
    KV_PATH: ":memory:",
    APP_SECRET_STRING: "a-benchmark-secret-that-is-32-bytes-or-more",
    BCRYPT_COST: String(COST),
    LOGIN_MAX_FAILURES: "1000",
    NO_COLOR: "1",
  });
  const bareUrl = `http://127.0.0.1:${barePort}/`;
  const base = `http://127.0.0.1:${servicePort}`;
  await waitUntilUp(bareUrl);
  await waitUntilUp(`${base}/healthz`);
  const servicePid = service.pid;

  await (await postJson(`${base}/signup`, USER)).body?.cancel();
  const login = await (await postJson(`${base}/login`, USER)).json();
  const bearer = { authorization: `Bearer ${login.access_token}` };
  const json = { "content-type": "application/json" };
  const loginTarget: Target = {
    url: `${base}/login`,
    method: "POST",
    headers: json,
    body: JSON.stringify(USER),
  };
  const secretTarget: Target = {
    url: `${base}/secret`,
    method: "POST",
    headers: bearer,
  };

  log("Warming up");
  await wrk({ url: bareUrl }, { connections: CONNECTIONS, seconds: 1 });
  await wrk({ url: `${base}/notsecret` }, { ...run, seconds: 1 });
  await wrk(secretTarget, { ...run, seconds: 1 });

  log(`Measuring, ${SECONDS} s per figure`);
  const bareGet = await wrk({ url: bareUrl }, run);
  const notsecret = await wrk({ url: `${base}/notsecret` }, run);
  const barePost = await wrk(
    { url: bareUrl, method: "POST", headers: bearer },
    run,
  );
  const secret = await wrk(secretTarget, run);
  const logins = await wrk(loginTarget, {
    connections: LOGIN_CONNECTIONS,
    seconds: SECONDS + 2,
  });

  log("Measuring POST /secret while logins run at full speed");
  const background = wrk(loginTarget, {
    connections: LOGIN_CONNECTIONS,
    seconds: SECONDS + 2,
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const secretUnderLogins = await wrk(secretTarget, run);
  const loginsUnderSecret = await background;

  const serviceMemory = await peakMemoryMb(servicePid);
  const bareMemory = await peakMemoryMb(bare.pid);
  const loginCeiling = CORES / (hashMs / 1000);

  const lines = [
    `Machine: ${CORES} cores, ${Deno.build.target}, Deno ${Deno.version.deno}; ` +
    `wrk -t1 -c${CONNECTIONS} (logins -c${LOGIN_CONNECTIONS}), ${SECONDS} s per figure; ` +
    `bcrypt cost ${COST}: ${fmt(hashMs, 1)} ms per hash`,
    "",
    row(["figure", "bare Deno.serve", "service", "ratio", "target", "met"]),
    row(["---", "---", "---", "---", "---", "---"]),
    row([
      "GET /notsecret req/s",
      fmt(bareGet.rps),
      fmt(notsecret.rps),
      fmt(notsecret.rps / bareGet.rps, 2),
      ">= 0.85",
      String(notsecret.rps / bareGet.rps >= 0.85),
    ]),
    row([
      "GET /notsecret p50 / p99 ms",
      `${fmt(bareGet.p50, 2)} / ${fmt(bareGet.p99, 2)}`,
      `${fmt(notsecret.p50, 2)} / ${fmt(notsecret.p99, 2)}`,
      fmt(notsecret.p99 / bareGet.p99, 2),
      "",
      "",
    ]),
    row([
      "POST /secret req/s",
      fmt(barePost.rps),
      fmt(secret.rps),
      fmt(secret.rps / barePost.rps, 2),
      ">= 0.70",
      String(secret.rps / barePost.rps >= 0.7),
    ]),
    row([
      "POST /secret p50 / p99 ms",
      `${fmt(barePost.p50, 2)} / ${fmt(barePost.p99, 2)}`,
      `${fmt(secret.p50, 2)} / ${fmt(secret.p99, 2)}`,
      fmt(secret.p99 / barePost.p99, 2),
      "",
      "",
    ]),
    row([
      "POST /login req/s (ceiling: cores / hash time)",
      fmt(loginCeiling, 1),
      fmt(logins.rps, 1),
      fmt(logins.rps / loginCeiling, 2),
      ">= 0.80",
      String(logins.rps / loginCeiling >= 0.8),
    ]),
    row([
      "POST /login p50 / p99 ms",
      "",
      `${fmt(logins.p50)} / ${fmt(logins.p99)}`,
      "",
      "",
      "",
    ]),
    row([
      "POST /secret req/s while logins run (vs idle /secret)",
      fmt(secret.rps),
      fmt(secretUnderLogins.rps),
      fmt(secretUnderLogins.rps / secret.rps, 2),
      ">= 0.35",
      String(secretUnderLogins.rps / secret.rps >= 0.35),
    ]),
    row([
      "POST /secret p99 ms while logins run (vs idle /secret)",
      fmt(secret.p99, 2),
      fmt(secretUnderLogins.p99, 2),
      fmt(secretUnderLogins.p99 / secret.p99, 2),
      "<= 4",
      String(secretUnderLogins.p99 / secret.p99 <= 4),
    ]),
    row([
      "POST /login req/s during that",
      "",
      fmt(loginsUnderSecret.rps, 1),
      fmt(loginsUnderSecret.rps / loginCeiling, 2),
      "",
      "",
    ]),
    row([
      "peak memory MB",
      fmt(bareMemory, 1),
      fmt(serviceMemory, 1),
      fmt(serviceMemory / bareMemory, 2),
      "< 150 MB",
      String(serviceMemory < 150),
    ]),
  ];
  const failures = [
    bareGet,
    notsecret,
    barePost,
    secret,
    secretUnderLogins,
  ].reduce((sum, result) => sum + result.errors, 0);
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
