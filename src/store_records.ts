/**
 * The records the store keeps, as the rest of the service sees them.
 *
 * @module
 */

/** A stored account. Times are epoch milliseconds. */
export interface UserRecord {
  /** The username as first written. */
  username: string;
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
  /** The last successful login, or absent before the first. */
  lastLoginAt?: number;
}

/** A stored login session, the state behind its refresh tokens. */
export interface SessionRecord {
  id: string;
  /** The normalised username that owns the session. */
  userKey: string;
  /** How many times the refresh token was rotated; names the current one. */
  generation: number;
  /** Claims of the current refresh token, so it can be issued again. */
  jti: string;
  issuedAt: number;
  expiresAt: number;
  /** When the previous refresh token was rotated out, or 0. */
  rotatedAt: number;
  createdAt: number;
}

/** What failed logins are counted by. */
export type FailureScope = "username" | "address";

/** Attempts counted in one window. Times are epoch milliseconds. */
export interface WindowCount {
  count: number;
  /** When the window ends and the count starts again from zero. */
  resetAt: number;
}

/** Failed logins counted in one window. */
export type FailureCount = WindowCount;

/** Options for {@linkcode Store.reserveFailure} and its kin. */
export interface ReserveOptions {
  now: number;
  windowMs: number;
  /** How many may be counted in one window. */
  limit: number;
}

/** What a reservation counted, or the count that refused it. */
export interface Reservation {
  ok: boolean;
  count: WindowCount;
}

/** A record with the version KV gave it, for compare-and-set updates. */
export interface Versioned<T> {
  value: T;
  versionstamp: string;
}
