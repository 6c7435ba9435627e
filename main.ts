/**
 * The service's entry point: reads the configuration, opens Deno KV and
 * serves. `deno run main.ts` listens on PORT and HOSTNAME; `deno serve
 * main.ts` and Deno Deploy use the default export instead.
 *
 * @module
 */
import { ConfigError, parseConfig, readEnv } from "./src/config.ts";
import type { Config } from "./src/config.ts";
import { createHashPool } from "./src/hash_pool.ts";
import { createLogger, type Logger } from "./src/log.ts";
import type { PasswordHasher } from "./src/passwords.ts";
import { createService, type Service } from "./src/service.ts";

const VERSION = "0.1.0";

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
async function passwordHasher(
  config: Config,
  logger: Logger,
): Promise<PasswordHasher | undefined> {
  if (config.hashWorkers === 0) return undefined;
  const pool = createHashPool({
    size: config.hashWorkers,
    cost: config.bcryptCost,
    queueLimit: config.hashQueueLimit,
  });
  try {
    await pool.hash("probe");
    return pool;
  } catch (error) {
    pool.close();
    logger.warn("Hashing workers unavailable: hashing on the serving thread", {
      reason: error instanceof Error ? error.message : String(error),
    });
    return undefined;
  }
}

async function start(): Promise<{ service: Service; logger: Logger }> {
  const config = parseConfig(readEnv());
  const logger = createLogger({ level: config.logLevel });
  const kv = await openStore(config);
  const hasher = await passwordHasher(config, logger);
  const service = await createService(kv, {
    config,
    logger,
    ...(hasher ? { hasher } : {}),
  });
  logger.info("Started", {
    version: VERSION,
    store: config.kvPath ?? "platform default",
    access_token_ttl_s: config.accessTokenTtlMs / 1000,
    refresh_token_ttl_s: config.refreshTokenTtlMs / 1000,
    bcrypt_cost: config.bcryptCost,
    hash_workers: hasher ? config.hashWorkers : 0,
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
  return { service, logger };
}

let ready: Promise<Service> | undefined;
let servedByRuntime = false;

/** The handler for `deno serve main.ts` and Deno Deploy. */
export default {
  async fetch(request: Request): Promise<Response> {
    ready ??= start().then(({ service }) => service);
    return await (await ready).handler(request);
  },
  onListen() {
    servedByRuntime = true;
  },
} satisfies Deno.ServeDefaultExport;

// A failure to start is told in one line that says what to change, not as
// a stack trace.
function startFailure(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  if (error instanceof Deno.errors.AddrInUse) {
    return "Cannot listen: the address is in use; set PORT or HOSTNAME";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return "Cannot listen: HOSTNAME is not an address of this machine";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `Cannot start: a permission is missing: ${error.message}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `Cannot start: ${message}`;
}

async function listen(): Promise<void> {
  try {
    const config = parseConfig(readEnv());
    const { service, logger } = await start();
    ready = Promise.resolve(service);
    Deno.serve({
      port: config.port,
      hostname: config.hostname,
      onListen: ({ hostname, port }) =>
        logger.info("Listening", { address: `http://${hostname}:${port}` }),
    }, (request, info) => service.handler(request, info));
  } catch (error) {
    createLogger().error(startFailure(error));
    Deno.exit(1);
  }
}

if (import.meta.main) {
  // `deno serve` runs this module as main too, then serves the default
  // export and calls its onListen before any timer fires; listening here
  // as well would take a second port.
  setTimeout(() => {
    if (!servedByRuntime) listen();
  }, 0);
}
