/**
 * Shared test fixtures: a controllable clock, a service on an in-memory
 * store, a password hasher that counts its work, request builders, and the
 * signups, logins and refreshes most route tests start from.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Clock } from "../src/clock.ts";
import { type Config, parseConfig } from "../src/config.ts";
import { type Logger, silentLogger } from "../src/log.ts";
import { createPasswordHasher, type PasswordHasher } from "../src/passwords.ts";
import { createService, type Service } from "../src/service.ts";
import { assertTokenPair, assertTokenRefused } from "./_assertions.ts";

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

/** A password hasher that can hold a number of checks back together. */
export interface GatheringHasher extends PasswordHasher {
  /**
   * Makes the next `count` password checks answer only once all of them
   * have run, so that as many requests read an account before any of them
   * goes on to write it.
   */
  gather(count: number): void;
}

/** `inner` (bcrypt at cost 4 unless given) with {@linkcode GatheringHasher.gather}. */
export function gatheringHasher(
  inner: PasswordHasher = createPasswordHasher({ cost: 4 }),
): GatheringHasher {
  let group: (() => void)[] | undefined;
  let size = 0;
  return {
    hash: (password) => inner.hash(password),
    async verify(password, hash) {
      const matches = await inner.verify(password, hash);
      const waiting = group;
      if (!waiting) return matches;
      // The last to arrive closes the group: checks after it, such as a
      // recheck once a write lost, are not held.
      if (waiting.length + 1 === size) group = undefined;
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length === size) waiting.forEach((wake) => wake());
      });
      return matches;
    },
    gather(count) {
      group = [];
      size = count;
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

/** Options for {@linkcode TestService.fetch}. */
export interface TestFetchOptions {
  /** The client address the server would see; none if unset. */
  address?: string | undefined;
}

/** A service on its own in-memory store; dispose of it with `using`. */
export interface TestService extends Service, AsyncDisposable {
  kv: Deno.Kv;
  clock: FakeClock;
  config: Config;
  /**
   * The delays, in milliseconds, that failed password checks were held
   * back by, in order. Nothing really waits for them.
   */
  delays: number[];
  /** Sends a request to the handler, with a path relative to the service. */
  fetch(
    path: string,
    init?: RequestInit,
    options?: TestFetchOptions,
  ): Promise<Response>;
}

/** Builds a service on a fresh `:memory:` Deno KV and a fake clock. */
export async function openTestService(
  options: TestServiceOptions = {},
): Promise<TestService> {
  const kv = options.kv ?? await Deno.openKv(":memory:");
  const clock = options.clock ?? new FakeClock();
  const config = testConfig(options.config);
  const delays: number[] = [];
  const service = await createService(kv, {
    config,
    clock,
    logger: options.logger ?? silentLogger,
    wait: (ms) => {
      delays.push(ms);
      return Promise.resolve();
    },
    ...(options.hasher ? { hasher: options.hasher } : {}),
  });
  return {
    ...service,
    kv,
    clock,
    config,
    delays,
    fetch: async (path, init, { address } = {}) =>
      await service.handler(
        new Request(new URL(path, "http://localhost"), init),
        address ? { remoteAddr: { hostname: address } } : undefined,
      ),
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

/** The password accounts are made with unless a test needs another. */
export const PASSWORD = "correct horse battery";

/** Posts a signup and answers what the service said. */
export async function signUp(
  service: TestService,
  username: string,
  password = PASSWORD,
): Promise<Response> {
  return await service.fetch("/signup", json({ username, password }));
}

/**
 * Signs up an account a test builds on, failing at once if that is refused,
 * so a later assertion does not fail for a reason it does not name.
 */
export async function createAccount(
  service: TestService,
  username: string,
  password = PASSWORD,
): Promise<void> {
  const response = await signUp(service, username, password);
  assert.equal(response.status, 201, `Signup of "${username}"`);
  await response.body?.cancel();
}

/** Posts a login and answers what the service said. */
export async function logIn(
  service: TestService,
  username: string,
  password: string,
): Promise<Response> {
  return await service.fetch("/login", json({ username, password }));
}

/** Exchanges a refresh token sent as a bearer token on `GET /refresh_token`. */
export async function refresh(
  service: TestService,
  refreshToken: string,
): Promise<Response> {
  return await service.fetch("/refresh_token", bearer(refreshToken));
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
  password = PASSWORD,
): Promise<{ username: string; password: string; tokens: TokenPairBody }> {
  const username = randomUsername();
  await createAccount(service, username, password);
  const login = await logIn(service, username, password);
  if (login.status !== 200) throw new Error(`Login: ${login.status}`);
  return { username, password, tokens: await login.json() };
}

/**
 * Signs up a fresh user and logs it in twice: `tokens` for the session a
 * test acts in, `other` for a second one, to see what happens to it.
 */
export async function signUpWithTwoSessions(service: TestService): Promise<{
  username: string;
  password: string;
  tokens: TokenPairBody;
  other: TokenPairBody;
}> {
  const user = await signUpAndLogIn(service);
  const other = await assertTokenPair(
    await logIn(service, user.username, user.password),
  );
  return { ...user, other };
}

/**
 * Asserts that a session has ended: neither of its tokens works, on the
 * account routes or on `/secret`.
 */
export async function assertSessionOver(
  service: TestService,
  tokens: TokenPairBody,
): Promise<void> {
  // /secret first: /me reads the session, which would tell /secret too.
  await assertTokenRefused(
    await service.fetch("/secret", bearer(tokens.access_token, "POST")),
    "Invalid token",
  );
  await assertTokenRefused(
    await refresh(service, tokens.refresh_token),
    "Invalid refresh token",
  );
  await assertTokenRefused(
    await service.fetch("/me", bearer(tokens.access_token)),
    "Invalid token",
  );
}
