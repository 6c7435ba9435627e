/**
 * Runs the real `deno` binary on this repository, or an executable it
 * compiled, as a child process, for what only a whole process shows: the
 * start line, exit codes, signals and the permission set. Every child has
 * a deadline and is killed and reaped on dispose, so a failing test leaves
 * no process behind.
 *
 * Needs `--allow-run` (the binary's path differs per install, so it cannot
 * be named), `--allow-read` for `Deno.execPath()` and `--allow-env` to pass
 * Deno's own variables through.
 *
 * @module
 */

/** The repository root, where `deno.json` and its permission set live. */
export const ROOT = new URL("../", import.meta.url);

// Only what the child needs to find Deno's cache: the service's own
// variables must come from the test, never from whoever runs it.
const PASSED_THROUGH = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"];

/** One line of a child's standard output, parsed when it is JSON. */
export type OutputLine = Record<string, unknown>;

/** Options for {@linkcode spawnDeno} and {@linkcode spawnProcess}. */
export interface SpawnDenoOptions {
  /** Variables for the child, on top of the few passed through. */
  env?: Record<string, string>;
  /** The child is killed once this long has passed; 60 s by default. */
  timeoutMs?: number;
  /** Where the child runs; the repository root by default. */
  cwd?: string | URL;
}

/** How a child ended. */
export interface Finished {
  code: number;
  signal: Deno.Signal | null;
  /** Whether the deadline killed it. */
  timedOut: boolean;
  lines: OutputLine[];
  stderr: string;
}

/** A running `deno` child. */
export interface DenoProcess extends AsyncDisposable {
  /** The child's process id. */
  readonly pid: number;
  /** Its standard output so far, a line each; `{ text }` if not JSON. */
  readonly lines: readonly OutputLine[];
  /** The first line, already written or still to come, that matches. */
  waitForLine(
    match: (line: OutputLine) => boolean,
    timeoutMs?: number,
  ): Promise<OutputLine>;
  kill(signal?: Deno.Signal): void;
  /** Waits for the exit and the end of both output streams. */
  finished(): Promise<Finished>;
}

interface Waiter {
  match: (line: OutputLine) => boolean;
  resolve: (line: OutputLine) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Starts `deno <args>` in the repository root with a clean environment.
 *
 * @example Usage
 * ```ts
 * await using child = spawnDeno(["run", "-P", "main.ts"]);
 * const started = await child.waitForLine((line) => line.msg === "Started");
 * ```
 */
export function spawnDeno(
  args: string[],
  options: SpawnDenoOptions = {},
): DenoProcess {
  return spawnProcess(Deno.execPath(), args, options);
}

/**
 * Starts any executable the way {@linkcode spawnDeno} starts `deno`: a
 * clean environment, a deadline, and a kill and reap on dispose. For a
 * binary made by `deno compile`, which is Deno without the CLI.
 *
 * @example Usage
 * ```ts
 * await using child = spawnProcess("./auth-service", [], { cwd: dir });
 * const { code } = await child.finished();
 * ```
 */
export function spawnProcess(
  command: string | URL,
  args: string[],
  options: SpawnDenoOptions = {},
): DenoProcess {
  const env: Record<string, string> = {
    NO_COLOR: "1",
    DENO_NO_UPDATE_CHECK: "1",
  };
  for (const name of PASSED_THROUGH) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  Object.assign(env, options.env);
  const child = new Deno.Command(command, {
    args,
    cwd: options.cwd ?? ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const lines: OutputLine[] = [];
  const waiters = new Set<Waiter>();
  let stderr = "";
  let exited = false;
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    kill("SIGKILL");
  }, options.timeoutMs ?? 60_000);

  function kill(signal: Deno.Signal = "SIGTERM"): void {
    if (exited) return;
    try {
      child.kill(signal);
    } catch {
      // It exited between the check and the signal.
    }
  }

  function settle(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    waiters.delete(waiter);
  }

  function onLine(text: string): void {
    const line = parseLine(text);
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (!waiter.match(line)) continue;
      settle(waiter);
      waiter.resolve(line);
    }
  }

  const stdoutDone = readLines(child.stdout, onLine).finally(() => {
    for (const waiter of [...waiters]) {
      settle(waiter);
      waiter.reject(new Error(`Output ended first; stderr: ${stderr}`));
    }
  });
  const stderrDone = readLines(child.stderr, (text) => {
    stderr += `${text}\n`;
  });
  const status = child.status.then((status) => {
    exited = true;
    return status;
  });
  const done = Promise.all([status, stdoutDone, stderrDone]).then(
    ([status]): Finished => {
      clearTimeout(deadline);
      return { ...status, timedOut, lines, stderr };
    },
  );

  return {
    pid: child.pid,
    lines,
    waitForLine(match, timeoutMs = 30_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter: Waiter = {
          match,
          resolve,
          reject,
          timer: setTimeout(() => {
            settle(waiter);
            reject(
              new Error(`No such line in ${timeoutMs} ms; stderr: ${stderr}`),
            );
          }, timeoutMs),
        };
        waiters.add(waiter);
      });
    },
    kill,
    finished: () => done,
    async [Symbol.asyncDispose]() {
      kill("SIGKILL");
      await done;
    },
  };
}

function parseLine(text: string): OutputLine {
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : { text };
  } catch {
    return { text };
  }
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (text: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const part of parts) onLine(part);
  }
  if (rest) onLine(rest);
}

/** Whether a text holds a JavaScript stack frame. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[:(]/m.test(text);
}

/**
 * A fresh directory under `./data`, the one place the permission set lets
 * the service write, and its path relative to the repository root.
 */
export async function makeDataDir(): Promise<
  { path: string } & AsyncDisposable
> {
  const path = `./data/test_${crypto.randomUUID().slice(0, 8)}`;
  const url = new URL(path, ROOT);
  await Deno.mkdir(url, { recursive: true });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(url, { recursive: true }),
  };
}

/**
 * A port of 127.0.0.1 that was free a moment ago. Prefer `PORT=0` and the
 * address the start line reports; this is for a child that cannot say.
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}
