/**
 * A pool of Web Workers that hash and verify passwords, with a bounded
 * queue in front of it. bcrypt at cost 12 takes about a quarter of a second
 * of CPU; on the serving thread that would stall every other request.
 *
 * @module
 */
import type { HashJob, HashReply } from "./password_worker.ts";
import type { PasswordHasher } from "./passwords.ts";

/** Raised when the queue is full; the caller should answer 503. */
export class HashQueueFullError extends Error {
  readonly code = "ERR_HASH_QUEUE_FULL";

  constructor(limit: number) {
    super(`Cannot queue password hashing: ${limit} requests already wait`);
    this.name = "HashQueueFullError";
  }
}

/** Raised when a worker died while working on a request. */
export class HashWorkerError extends Error {
  readonly code = "ERR_HASH_WORKER";

  constructor(message: string) {
    super(message);
    this.name = "HashWorkerError";
  }
}

/** Options for {@linkcode createHashPool}. */
export interface HashPoolOptions {
  /** How many workers hash at once. */
  size: number;
  /** The bcrypt cost for new hashes. */
  cost: number;
  /** How many requests may wait for a worker before new ones are refused. */
  queueLimit: number;
  /** The worker module; the service's own by default. */
  workerUrl?: URL;
}

/** A password hasher backed by workers; close it to stop them. */
export interface HashPool extends PasswordHasher, Disposable {
  /** Requests waiting for a worker. */
  readonly waiting: number;
  /** Stops every worker; pending requests fail. */
  close(): void;
}

type Job = {
  request: HashJob;
  resolve: (value: string | boolean) => void;
  reject: (error: Error) => void;
};

type Slot = { worker: Worker; job: Job | undefined };

const WORKER_URL = new URL("./password_worker.ts", import.meta.url);

// The modules a worker loads: itself and the password rules it imports.
const WORKER_MODULES = [WORKER_URL, new URL("./passwords.ts", import.meta.url)];

/**
 * Starts a pool of hashing workers. Each worker may read only its own
 * module: no network, environment, files or subprocesses.
 *
 * Requires `--allow-read` for `password_worker.ts` and `passwords.ts`, and
 * Deno's `worker-options` unstable feature.
 *
 * @example Usage
 * ```ts
 * using pool = createHashPool({ size: 2, cost: 12, queueLimit: 64 });
 * const hash = await pool.hash("correct horse");
 * ```
 */
export function createHashPool(options: HashPoolOptions): HashPool {
  const url = options.workerUrl ?? WORKER_URL;
  const modules = options.workerUrl ? [options.workerUrl] : WORKER_MODULES;
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;
  // Workers that die again and again (a module that cannot load) are not
  // replaced for ever: past this many crashes in a row the pool gives up.
  const maxCrashes = 2 * Math.max(1, options.size) + 1;
  let crashes = 0;

  function spawn(): Slot {
    const worker = new Worker(url, {
      type: "module",
      deno: { permissions: workerPermissions(modules) },
    } as WorkerOptions);
    const slot: Slot = { worker, job: undefined };
    worker.onmessage = (event: MessageEvent<HashReply>) => {
      const job = slot.job;
      slot.job = undefined;
      crashes = 0;
      if (job) settle(job, event.data);
      pump();
    };
    worker.onerror = (event) => {
      event.preventDefault();
      replace(slot, event.message);
    };
    return slot;
  }

  const slots = Array.from({ length: Math.max(1, options.size) }, spawn);

  // A crashed worker fails only the request it held, then is replaced.
  function replace(slot: Slot, reason: string): void {
    slot.worker.terminate();
    const job = slot.job;
    slot.job = undefined;
    job?.reject(new HashWorkerError(`Hashing worker crashed: ${reason}`));
    if (closed) return;
    if (++crashes > maxCrashes) {
      close(`Hashing workers keep crashing: ${reason}`);
      return;
    }
    const index = slots.indexOf(slot);
    if (index >= 0) slots[index] = spawn();
    pump();
  }

  function pump(): void {
    for (const slot of slots) {
      if (slot.job || queue.length === 0) continue;
      const job = queue.shift();
      if (!job) return;
      slot.job = job;
      slot.worker.postMessage({ ...job.request, id: nextId++ });
    }
  }

  function submit(request: Job["request"]): Promise<string | boolean> {
    if (closed) {
      return Promise.reject(new HashWorkerError("Hashing pool is closed"));
    }
    const busy = slots.every((slot) => slot.job);
    if (busy && queue.length >= options.queueLimit) {
      return Promise.reject(new HashQueueFullError(options.queueLimit));
    }
    return new Promise((resolve, reject) => {
      queue.push({ request, resolve, reject });
      pump();
    });
  }

  function close(reason = "Hashing pool is closed"): void {
    if (closed) return;
    closed = true;
    for (const slot of slots) {
      slot.worker.terminate();
      slot.job?.reject(new HashWorkerError(reason));
      slot.job = undefined;
    }
    for (const job of queue.splice(0)) job.reject(new HashWorkerError(reason));
  }

  return {
    get waiting() {
      return queue.length;
    },
    async hash(password) {
      const request = { op: "hash" as const, password, cost: options.cost };
      return String(await submit(request));
    },
    async verify(password, hash) {
      return (await submit({ op: "verify", password, hash })) === true;
    },
    close: () => close(),
    [Symbol.dispose]: () => close(),
  };
}

function settle(job: Job, reply: HashReply): void {
  if (reply.ok) job.resolve(reply.value);
  else job.reject(new HashWorkerError(`Hashing failed: ${reply.message}`));
}

function workerPermissions(modules: URL[]): Deno.PermissionOptionsObject {
  const files = modules.filter((url) => url.protocol === "file:");
  return {
    read: files.length ? files : false,
    write: false,
    net: false,
    env: false,
    run: false,
    ffi: false,
    // Only to lower its own priority, where the service may.
    sys: canSetPriority() ? ["setPriority"] : false,
    import: false,
  };
}

function canSetPriority(): boolean {
  const descriptor = { name: "sys", kind: "setPriority" } as const;
  return Deno.permissions.querySync(descriptor).state === "granted";
}
