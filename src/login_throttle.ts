/**
 * Slowing down password guessing: failed password checks (at login and
 * wherever a password is asked for again) are counted per username and
 * per client address; from the third failure for a name each failed answer
 * is held back a little longer, and past a limit the check is refused
 * before any hashing is done, until the window ends.
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
  /** Waits `ms` milliseconds; a timer unless given. */
  wait?: ((ms: number) => Promise<void>) | undefined;
}

/**
 * Who is logging in: the normalised username and, if known, the address.
 * An attempt without a username key is counted against its address only.
 */
export interface LoginAttempt {
  /** The normalised username; none for a name no account can have. */
  userKey?: string | undefined;
  address?: string | undefined;
}

// A name's third failure waits 250 ms, each later one twice as long, up to
// 2 s: a script guessing one name slows at once, while an owner who
// mistyped twice notices nothing.
const SLOW_FROM_FAILURE = 3;
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 2_000;

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
  readonly #wait: (ms: number) => Promise<void>;

  constructor(options: LoginThrottleOptions) {
    this.#options = options;
    this.#wait = options.wait ?? sleep;
  }

  /**
   * Runs one password check under the throttle: refused at the limit
   * before `check` runs; kept counted, and answered after the name's
   * delay, if it fails with `invalid_credentials`; taken back if it fails
   * otherwise; and the name's failures forgotten if it succeeds.
   *
   * @example Usage
   * ```ts
   * const pair = await throttle.guard({ userKey, address }, () => check());
   * ```
   * @throws {ThrottledError} at the limit, or whatever `check` throws.
   */
  async guard<T>(attempt: LoginAttempt, check: () => Promise<T>): Promise<T> {
    const failures = await this.reserve(attempt);
    let result: T;
    try {
      result = await check();
    } catch (error) {
      if (!isInvalidCredentials(error)) {
        // A fault of the service's own does not count against the user.
        await this.release(attempt);
        throw error;
      }
      const delay = slowdownMs(failures, this.#options.windowMs);
      if (delay > 0) await this.#wait(delay);
      throw error;
    }
    await this.succeed(attempt);
    return result;
  }

  /**
   * Counts an attempt against its username and address, unless either is
   * at its limit.
   *
   * @returns how many attempts the username has counted in its window,
   * this one included; 0 for an attempt without one.
   * @throws {ThrottledError} with the seconds until the window ends.
   */
  async reserve(attempt: LoginAttempt): Promise<number> {
    const { store, clock, windowMs } = this.#options;
    const now = clock.now();
    const reserved: [FailureScope, string][] = [];
    const refusedUntil: number[] = [];
    let failures = 0;
    for (const [scope, key, limit] of this.#keys(attempt)) {
      const counted = await store.reserveFailure(scope, key, {
        now,
        windowMs,
        limit,
      });
      if (!counted.ok) refusedUntil.push(counted.count.resetAt);
      else {
        reserved.push([scope, key]);
        if (scope === "username") failures = counted.count.count;
      }
    }
    if (refusedUntil.length === 0) return failures;
    for (const [scope, key] of reserved) {
      await store.releaseFailure(scope, key, { now });
    }
    throw this.#refusal(now, Math.max(...refusedUntil));
  }

  /** Takes back an attempt that did not fail through the caller's fault. */
  async release(attempt: LoginAttempt): Promise<void> {
    const { store, clock } = this.#options;
    const now = clock.now();
    if (attempt.userKey) {
      await store.releaseFailure("username", attempt.userKey, { now });
    }
    if (attempt.address) {
      await store.releaseFailure("address", attempt.address, { now });
    }
  }

  /** Forgets the username's failures and takes back the address's count. */
  async succeed(attempt: LoginAttempt): Promise<void> {
    const { store, clock } = this.#options;
    if (attempt.userKey) await store.clearFailures("username", attempt.userKey);
    if (attempt.address) {
      const now = clock.now();
      await store.releaseFailure("address", attempt.address, { now });
    }
  }

  #keys(attempt: LoginAttempt): [FailureScope, string, number][] {
    const keys: [FailureScope, string, number][] = [];
    if (attempt.userKey) {
      keys.push(["username", attempt.userKey, this.#options.maxFailures]);
    }
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

/**
 * How long the failed answer to a name's `failures`-th attempt in a window
 * is held back. A short window caps it at a tenth of its length, so the
 * waits stay well inside the window they slow.
 */
function slowdownMs(failures: number, windowMs: number): number {
  if (failures < SLOW_FROM_FAILURE) return 0;
  const doublings = Math.min(failures - SLOW_FROM_FAILURE, 10);
  const delay = FIRST_DELAY_MS * 2 ** doublings;
  return Math.min(delay, MAX_DELAY_MS, Math.floor(windowMs / 10));
}

function isInvalidCredentials(error: unknown): boolean {
  return error instanceof AuthError && error.code === "invalid_credentials";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
