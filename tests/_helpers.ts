/**
 * Shared test fixtures: a controllable clock, a service on an in-memory
 * store, a password hasher that counts its work, and request builders.
 *
 * @module
 */
import type { Clock } from "../src/clock.ts";
import { type Config, parseConfig } from "../src/config.ts";
import { type Logger, silentLogger } from "../src/log.ts";
import { createPasswordHasher, type PasswordHasher } from "../src/passwords.ts";
import { createService, type Service } from "../src/service.ts";

/** A clock that stands still until a test moves it. */
export class FakeClock implements Clock {
  #now: number;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.#now += ms;
  }

  /** Sets the clock to an exact epoch millisecond. */
  set(ms: number): void {
    this.#now = ms;
  }
}

/** A password hasher that records the work it was asked to do. */
export interface CountingHasher extends PasswordHasher {
  /** How many passwords it hashed. */
  readonly hashed: number;
  /** The hashes it verified passwords against, in order. */
  readonly verified: readonly string[];
}

/** bcrypt on this thread at `cost`, counting every call. */
export function countingHasher(cost = 4): CountingHasher {
  const bcrypt = createPasswordHasher({ cost });
  const verified: string[] = [];
  let hashed = 0;
  return {
    get hashed() {
      return hashed;
    },
    verified,
    hash: (password) => {
      hashed++;
      return bcrypt.hash(password);
    },
    verify: (password, hash) => {
      verified.push(hash);
      return bcrypt.verify(password, hash);
    },
  };
}

/** The configuration tests run with: a fixed secret and a cheap hash. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    ...parseConfig({
      APP_SECRET_STRING: "test-secret-that-is-long-enough-for-hs256!",
      BCRYPT_COST: "4",
    }, { defaultKvPath: ":memory:" }),
    ...overrides,
  };
}

/** Options for {@linkcode openTestService}. */
export interface TestServiceOptions {
  config?: Partial<Config>;
  clock?: FakeClock;
  logger?: Logger;
  /** An existing KV to build on, e.g. to test a restart. */
  kv?: Deno.Kv;
  /** A password hasher in place of bcrypt on this thread. */
  hasher?: PasswordHasher;
}

/** A service on its own in-memory store; dispose of it with `using`. */
export interface TestService extends Service, AsyncDisposable {
  kv: Deno.Kv;
  clock: FakeClock;
  config: Config;
  /** Sends a request to the handler, with a path relative to the service. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

/** Builds a service on a fresh `:memory:` Deno KV and a fake clock. */
export async function openTestService(
  options: TestServiceOptions = {},
): Promise<TestService> {
  const kv = options.kv ?? await Deno.openKv(":memory:");
  const clock = options.clock ?? new FakeClock();
  const config = testConfig(options.config);
  const service = await createService(kv, {
    config,
    clock,
    logger: options.logger ?? silentLogger,
    ...(options.hasher ? { hasher: options.hasher } : {}),
  });
  return {
    ...service,
    kv,
    clock,
    config,
    fetch: (path, init) =>
      service.handler(new Request(new URL(path, "http://localhost"), init)),
    [Symbol.asyncDispose]: () => Promise.resolve(kv.close()),
  };
}

/** Request options for a JSON body, with an optional bearer token. */
export function json(
  body: unknown,
  options: { method?: string; token?: string } = {},
): RequestInit {
  const headers: Record<string, string> = {
    "content-type": "application/json",
  };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return {
    method: options.method ?? "POST",
    headers,
    body: JSON.stringify(body),
  };
}

/** Request options carrying a bearer token. */
export function bearer(token: string, method = "GET"): RequestInit {
  return { method, headers: { authorization: `Bearer ${token}` } };
}

/** A username no other test uses. */
export function randomUsername(prefix = "user"): string {
  return `${prefix}_${crypto.randomUUID().slice(0, 8)}`;
}

/** The token pair a login answers with. */
export interface TokenPairBody {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  refresh_expires_in: number;
}

/** Signs up and logs in a fresh user, returning its name and tokens. */
export async function signUpAndLogIn(
  service: TestService,
  password = "correct horse battery",
): Promise<{ username: string; password: string; tokens: TokenPairBody }> {
  const username = randomUsername();
  const signup = await service.fetch("/signup", json({ username, password }));
  if (signup.status !== 201) throw new Error(`Signup: ${signup.status}`);
  await signup.body?.cancel();
  const login = await service.fetch("/login", json({ username, password }));
  if (login.status !== 200) throw new Error(`Login: ${login.status}`);
  return { username, password, tokens: await login.json() };
}
