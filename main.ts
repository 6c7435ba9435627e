/**
 * The service's entry point: reads the configuration, opens Deno KV and
 * serves. `deno run main.ts` listens on PORT and HOSTNAME; `deno serve
 * main.ts` and Deno Deploy use the default export instead.
 *
 * @module
 */
import { parseConfig, readEnv } from "./src/config.ts";
import type { Config } from "./src/config.ts";
import { createHashPool, type HashPool } from "./src/hash_pool.ts";
import { createLogger, type Logger } from "./src/log.ts";
import { problemResponse } from "./src/problem.ts";
import { createService, type Service, VERSION } from "./src/service.ts";
import { startFailure } from "./src/start_failure.ts";

/** In-flight requests get this long to finish once a stop is asked for. */
const SHUTDOWN_GRACE_MS = 10_000;

interface Running {
  config: Config;
  logger: Logger;
  kv: Deno.Kv;
  pool: HashPool | undefined;
  service: Service;
}

async function openStore(config: Config): Promise<Deno.Kv> {
  const path = config.kvPath;
  if (path && path !== ":memory:" && !/^https?:/.test(path)) {
    const dir = path.replace(/[\\/][^\\/]*$/, "");
    if (dir && dir !== path) await Deno.mkdir(dir, { recursive: true });
  }
  return await Deno.openKv(path);
}

// bcrypt on the serving thread stalls every request while it runs, so it
// only happens there when workers are turned off or cannot start.
async function startHashPool(
  config: Config,
  logger: Logger,
): Promise<HashPool | undefined> {
  if (config.hashWorkers === 0) return undefined;
  if (typeof Worker === "undefined") {
    logger.warn("Workers unavailable here: hashing on the serving thread");
    return undefined;
  }
  // Without read access to the worker's modules, Deno refuses the workers
  // as they are made rather than when they first hash.
  let pool: HashPool | undefined;
  try {
    pool = createHashPool({
      size: config.hashWorkers,
      cost: config.bcryptCost,
      queueLimit: config.hashQueueLimit,
    });
    await pool.hash("probe");
    return pool;
  } catch (error) {
    pool?.close();
    logger.warn("Hashing workers unavailable: hashing on the serving thread", {
      reason: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

async function start(): Promise<Running> {
  const config = parseConfig(readEnv());
  const logger = createLogger({ level: config.logLevel });
  const kv = await openStore(config);
  const pool = await startHashPool(config, logger);
  const service = await createService(kv, {
    config,
    logger,
    ...(pool ? { hasher: pool } : {}),
  });
  return { config, logger, kv, pool, service };
}

function announce(running: Running, address: string): void {
  const { config, logger, pool, service } = running;
  logger.info("Started", {
    version: VERSION,
    address,
    store: config.kvPath ?? "platform default",
    access_token_ttl_s: config.accessTokenTtlMs / 1000,
    refresh_token_ttl_s: config.refreshTokenTtlMs / 1000,
    bcrypt_cost: config.bcryptCost,
    hash_workers: pool ? config.hashWorkers : 0,
    secret: service.secretSource,
  });
  if (service.secretSource === "generated") {
    logger.warn(
      "APP_SECRET_STRING is unset: generated a signing secret and kept it in the store",
    );
  } else if (service.secretSource === "stored") {
    logger.warn(
      "APP_SECRET_STRING is unset: using the signing secret kept in the store",
    );
  }
}

function describeFailure(error: unknown): string {
  return startFailure(error, { standalone: Deno.build.standalone });
}

function failToStart(error: unknown): never {
  const logger = createLogger();
  logger.error(describeFailure(error));
  logger.flush();
  Deno.exit(1);
}

async function stop(running: Running, server: Deno.HttpServer): Promise<void> {
  const { logger } = running;
  logger.info("Stopping: finishing requests in flight");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), SHUTDOWN_GRACE_MS);
  });
  const outcome = await Promise.race([server.shutdown(), deadline]);
  clearTimeout(timer);
  if (outcome === "late") {
    logger.warn("Stopped with requests still in flight after 10 s");
  }
  running.pool?.close();
  running.kv.close();
  logger.info("Stopped");
  logger.flush();
  Deno.exit(0);
}

function onStopSignal(listener: () => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, listener);
    } catch {
      // Windows has no SIGTERM; Ctrl-C still arrives as SIGINT.
    }
  }
}

async function listen(): Promise<void> {
  const running = await start().catch(failToStart);
  const { config, service } = running;
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      port: config.port,
      hostname: config.hostname,
      onListen: ({ hostname, port }) =>
        announce(running, `http://${hostname}:${port}`),
    }, (request, info) => service.handler(request, info));
  } catch (error) {
    // Warnings from the start so far may explain the failure.
    running.logger.flush();
    failToStart(error);
  }
  let stopping = false;
  onStopSignal(() => {
    if (stopping) return;
    stopping = true;
    stop(running, server);
  });
}

let ready: Promise<Running> | undefined;
let servedByRuntime = false;

/** The handler for `deno serve main.ts` and Deno Deploy. */
export default {
  async fetch(request: Request): Promise<Response> {
    ready ??= start();
    try {
      return await (await ready).service.handler(request);
    } catch (error) {
      createLogger().error(describeFailure(error));
      return problemResponse(503, "Service is not configured correctly");
    }
  },
  onListen(addr: Deno.Addr) {
    servedByRuntime = true;
    const address = "hostname" in addr
      ? `http://${addr.hostname}:${addr.port}`
      : addr.transport;
    ready ??= start();
    ready.then(
      (running) => announce(running, address),
      (error) => createLogger().error(describeFailure(error)),
    );
  },
} satisfies Deno.ServeDefaultExport;

if (import.meta.main) {
  // `deno serve` runs this module as main too, then serves the default
  // export and calls its onListen before any timer fires; listening here
  // as well would take a second port.
  setTimeout(() => {
    if (!servedByRuntime) listen();
  }, 0);
}
