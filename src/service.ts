/**
 * Assembles the service from its parts: store, secret, tokens, hasher,
 * sessions, accounts and routes.
 *
 * @module
 */
import { accountRoutes } from "./account_routes.ts";
import { Accounts } from "./accounts.ts";
import { createApp, type Handler } from "./app.ts";
import { authRoutes } from "./auth_routes.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { LoginThrottle } from "./login_throttle.ts";
import { createPasswordHasher, type PasswordHasher } from "./passwords.ts";
import { publicRoutes } from "./public_routes.ts";
import { Sessions } from "./sessions.ts";
import { Store } from "./store.ts";
import { createTokens } from "./tokens.ts";
import type { ApiRoute } from "./api_route.ts";

/** Options for {@linkcode createService}. */
export interface ServiceOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  /** How passwords are hashed; bcrypt on this thread by default. */
  hasher?: PasswordHasher;
}

/** A ready service. */
export interface Service {
  handler: Handler;
  routes: ApiRoute[];
  /** Whether the signing secret was generated and kept in the store. */
  secretGenerated: boolean;
}

const SECRET_SETTING = "signing_secret";

/**
 * Builds the service on an open Deno KV database.
 *
 * @example Usage
 * ```ts
 * const kv = await Deno.openKv(":memory:");
 * const { handler } = await createService(kv, { config, logger });
 * ```
 */
export async function createService(
  kv: Deno.Kv,
  options: ServiceOptions,
): Promise<Service> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const store = new Store(kv);
  const { secret, generated } = await signingSecret(store, config);
  const tokens = await createTokens(secret, {
    clock,
    accessTtlMs: config.accessTokenTtlMs,
  });
  const hasher = options.hasher ??
    createPasswordHasher({ cost: config.bcryptCost });
  const sessions = new Sessions({
    store,
    tokens,
    clock,
    accessTtlMs: config.accessTokenTtlMs,
    refreshTtlMs: config.refreshTokenTtlMs,
    reuseIntervalMs: config.refreshReuseIntervalMs,
  });
  const throttle = new LoginThrottle({
    store,
    clock,
    maxFailures: config.loginMaxFailures,
    maxFailuresPerAddress: config.loginMaxFailuresPerAddress,
    windowMs: config.loginWindowMs,
  });
  const accounts = new Accounts({
    store,
    sessions,
    hasher,
    clock,
    bcryptCost: config.bcryptCost,
    throttle,
  });
  const passwordMinLength = config.passwordMinLength;
  const routes = [
    ...authRoutes({ accounts, sessions, passwordMinLength }),
    ...accountRoutes({ accounts, sessions, passwordMinLength }),
    ...publicRoutes({ store }),
  ];
  const handler = createApp({ routes, sessions, logger });
  return { handler, routes, secretGenerated: generated };
}

// Without a configured secret, one is made on first start and kept in the
// store, so tokens survive restarts and every instance on the store agrees.
async function signingSecret(
  store: Store,
  config: Config,
): Promise<{ secret: Uint8Array; generated: boolean }> {
  if (config.secret) return { secret: config.secret, generated: false };
  const fresh = crypto.getRandomValues(new Uint8Array(32));
  const secret = await store.initSetting(SECRET_SETTING, fresh);
  return { secret, generated: true };
}
