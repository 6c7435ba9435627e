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
 * failure and lasts `windowMs`. Each attempt is counted as a failure
 * before its password is checked, in one atomic step with the limit check,
 * so parallel guesses cannot slip past the limit together; a success takes
 * its count back. Refused attempts are not counted, so the rightful owner
 * is never kept out longer than one window.
 */
export class LoginThrottle {
  readonly #options: LoginThrottleOptions;

  constructor(options: LoginThrottleOptions) {
    this.#options = options;
  }

  /**
   * Counts an attempt against its username and address, unless either is
   * at its limit.
   *
   * @throws {ThrottledError} with the seconds until the window ends.
   */
  async reserve(attempt: LoginAttempt): Promise<void> {
    const { store, clock, windowMs } = this.#options;
    const now = clock.now();
    const reserved: [FailureScope, string][] = [];
    const refusedUntil: number[] = [];
    for (const [scope, key, limit] of this.#keys(attempt)) {
      const counted = await store.reserveFailure(scope, key, {
        now,
        windowMs,
        limit,
      });
      if (counted.ok) reserved.push([scope, key]);
      else refusedUntil.push(counted.count.resetAt);
    }
    if (refusedUntil.length === 0) return;
    for (const [scope, key] of reserved) {
      await store.releaseFailure(scope, key, { now });
    }
    throw this.#refusal(now, Math.max(...refusedUntil));
  }

  /** Takes back an attempt that did not fail through the caller's fault. */
  async release(attempt: LoginAttempt): Promise<void> {
    const { store, clock } = this.#options;
    const now = clock.now();
    await store.releaseFailure("username", attempt.userKey, { now });
    if (attempt.address) {
      await store.releaseFailure("address", attempt.address, { now });
    }
  }

  /** Forgets the username's failures and takes back the address's count. */
  async succeed(attempt: LoginAttempt): Promise<void> {
    const { store, clock } = this.#options;
    await store.clearFailures("username", attempt.userKey);
    if (attempt.address) {
      const now = clock.now();
      await store.releaseFailure("address", attempt.address, { now });
    }
  }

  #keys(attempt: LoginAttempt): [FailureScope, string, number][] {
    const keys: [FailureScope, string, number][] = [
      ["username", attempt.userKey, this.#options.maxFailures],
    ];
    if (attempt.address) {
      const limit = this.#options.maxFailuresPerAddress;
      keys.push(["address", attempt.address, limit]);
    }
    return keys;
  }

  #refusal(now: number, until: number): ThrottledError {
    return new ThrottledError(Math.max(1, Math.ceil((until - now) / 1000)));
  }
}
