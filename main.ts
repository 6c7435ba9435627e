/**
 * The service's entry point: reads the configuration, opens Deno KV and
 * serves. `deno run main.ts` listens on PORT and HOSTNAME; `deno serve
 * main.ts` and Deno Deploy use the default export instead.
 *
 * @module
 */
import { ConfigError, parseConfig, readEnv } from "./src/config.ts";
import type { Config } from "./src/config.ts";
import { createLogger, type Logger } from "./src/log.ts";
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

async function start(): Promise<{ service: Service; logger: Logger }> {
  const config = parseConfig(readEnv());
  const logger = createLogger({ level: config.logLevel });
  const kv = await openStore(config);
  const service = await createService(kv, { config, logger });
  logger.info("Started", {
    version: VERSION,
    store: config.kvPath ?? "platform default",
    access_token_ttl_s: config.accessTokenTtlMs / 1000,
    refresh_token_ttl_s: config.refreshTokenTtlMs / 1000,
    bcrypt_cost: config.bcryptCost,
    secret_generated: service.secretGenerated,
  });
  if (service.secretGenerated) {
    logger.warn(
      "APP_SECRET_STRING is unset: using a secret generated and kept in the store",
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
    }, service.handler);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    createLogger().error(error.message);
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
