/**
 * Slowing down password guessing: failed logins are counted per username
 * and per client address, and past a limit login is refused before any
 * hashing is done, until the window ends.
 *
 * @module
 */
import { AuthError } from "./auth_error.ts";
import type { Clock } from "./clock.ts";
import type { FailureScope, Store } from "./store.ts";

/** Login refused for a while; `retryAfter` is in whole seconds. */
export class ThrottledError extends AuthError {
  readonly retryAfter: number;

  constructor(retryAfter: number) {
    super("too_many_failures", "Cannot log in: too many failed attempts");
    this.name = "ThrottledError";
    this.retryAfter = retryAfter;
  }
}

/** Options for {@linkcode LoginThrottle}. */
export interface LoginThrottleOptions {
  store: Store;
  clock: Clock;
  /** Failures per username in one window before login is refused. */
  maxFailures: number;
  /** Failures per client address in one window before login is refused. */
  maxFailuresPerAddress: number;
  windowMs: number;
}

/** Who is logging in: the normalised username and, if known, the address. */
export interface LoginAttempt {
  userKey: string;
  address?: string | undefined;
}

/**
 * Counts failed logins in fixed windows. A window starts at the first
 * failure and lasts `windowMs`; refused attempts are not counted, so the
 * rightful owner is never kept out longer than one window.
 */
export class LoginThrottle {
  readonly #options: LoginThrottleOptions;

  constructor(options: LoginThrottleOptions) {
    this.#options = options;
  }

  /**
   * Refuses an attempt whose username or address is over its limit.
   *
   * @throws {ThrottledError} with the seconds until the window ends.
   */
  async check(attempt: LoginAttempt): Promise<void> {
    const now = this.#options.clock.now();
    let until = 0;
    for (const [scope, key, limit] of this.#keys(attempt)) {
      const failures = await this.#options.store.getFailures(scope, key);
      if (failures && failures.resetAt > now && failures.count >= limit) {
        until = Math.max(until, failures.resetAt);
      }
    }
    if (until > now) throw new ThrottledError(Math.ceil((until - now) / 1000));
  }

  /** Counts a failed attempt against its username and address. */
  async fail(attempt: LoginAttempt): Promise<void> {
    const now = this.#options.clock.now();
    const { windowMs } = this.#options;
    for (const [scope, key] of this.#keys(attempt)) {
      await this.#options.store.addFailure(scope, key, { now, windowMs });
    }
  }

  /** Forgets the username's failures after a successful login. */
  async succeed(attempt: LoginAttempt): Promise<void> {
    await this.#options.store.clearFailures("username", attempt.userKey);
  }

  #keys(attempt: LoginAttempt): [FailureScope, string, number][] {
    const keys: [FailureScope, string, number][] = [
      ["username", attempt.userKey, this.#options.maxFailures],
    ];
    if (attempt.address) {
      keys.push([
        "address",
        attempt.address,
        this.#options.maxFailuresPerAddress,
      ]);
    }
    return keys;
  }
}
