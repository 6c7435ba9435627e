/**
 * Limiting account creation per client address: each signup from an
 * address is counted in a fixed window, and past the limit signup is
 * refused before any hashing is done, until the window ends. A signup
 * whose address is unknown is not limited.
 *
 * @module
 */
import type { Clock } from "./clock.ts";
import type { Store } from "./store.ts";

/** Signup refused for a while; `retryAfter` is in whole seconds. */
export class SignupLimitError extends Error {
  /** A stable code to branch on. */
  readonly code = "too_many_signups";
  readonly retryAfter: number;

  constructor(retryAfter: number) {
    super("Cannot sign up: too many signups from this address");
    this.name = "SignupLimitError";
    this.retryAfter = retryAfter;
  }
}

/** Options for {@linkcode SignupLimit}. */
export interface SignupLimitOptions {
  store: Store;
  clock: Clock;
  /** Signups per client address in one window before signup is refused. */
  maxPerAddress: number;
  windowMs: number;
}

/**
 * Counts signups per address in fixed windows that start at the first
 * signup. Each is counted before its password is hashed, in one atomic
 * step with the limit check, so racing signups cannot pass it together.
 */
export class SignupLimit {
  readonly #options: SignupLimitOptions;

  constructor(options: SignupLimitOptions) {
    this.#options = options;
  }

  /**
   * Counts a signup against its address, unless the address is at its
   * limit; does nothing without an address.
   *
   * @example Usage
   * ```ts
   * await limit.reserve("203.0.113.5");
   * ```
   * @throws {SignupLimitError} with the seconds until the window ends.
   */
  async reserve(address: string | undefined): Promise<void> {
    if (!address) return;
    const { store, clock, maxPerAddress, windowMs } = this.#options;
    const now = clock.now();
    const counted = await store.reserveSignup(address, {
      now,
      windowMs,
      limit: maxPerAddress,
    });
    if (counted.ok) return;
    const seconds = Math.ceil((counted.count.resetAt - now) / 1000);
    throw new SignupLimitError(Math.max(1, seconds));
  }

  /** Takes back a signup that failed through the service's own fault. */
  async release(address: string | undefined): Promise<void> {
    if (!address) return;
    await this.#options.store.releaseSignup(address, {
      now: this.#options.clock.now(),
    });
  }
}
