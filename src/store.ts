/**
 * Persistence of users, sessions and settings in Deno KV. The only module
 * that touches `Deno.Kv`; it knows nothing of HTTP or tokens.
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

// Deno KV refuses atomic operations with more mutations than this, so
// revoking many sessions at once is split into batches.
const MAX_MUTATIONS = 1000;

/**
 * The most bytes of UTF-8 that the text in a key may take. Deno KV throws
 * for a key over 2048 bytes in all; the longest key here holds one such
 * text beside a prefix and a UUID, well within that. The longest username
 * makes a text of 320 bytes (64 characters that case mapping turns into
 * two each, of 3 and 2 bytes).
 */
export const MAX_KEY_TEXT_BYTES = 1024;

/** Why a text cannot be part of a key: `key_too_large` or `key_ill_formed`. */
export type StoreKeyErrorCode = "key_too_large" | "key_ill_formed";

/**
 * A key that Deno KV could not keep as it was given, refused before KV is
 * asked. The store's callers make sure no request can cause one; it is a
 * fault of theirs, never an answer to a client.
 */
export class StoreKeyError extends Error {
  readonly code: StoreKeyErrorCode;

  constructor(code: StoreKeyErrorCode, message: string) {
    super(message);
    this.name = "StoreKeyError";
    this.code = code;
  }
}

const UTF8 = new TextEncoder();

// A lone surrogate would be stored as U+FFFD, which is another text's
// key: "a\ud800" and "a\ufffd" would share one record.
function keyText(text: string): string {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8: a short text need
  // not be encoded to be measured.
  const maybeLong = text.length * 3 > MAX_KEY_TEXT_BYTES;
  if (maybeLong && UTF8.encode(text).length > MAX_KEY_TEXT_BYTES) {
    throw new StoreKeyError(
      "key_too_large",
      `Cannot make a store key: its text is over ${MAX_KEY_TEXT_BYTES} bytes of UTF-8`,
    );
  }
  if (!text.isWellFormed()) {
    throw new StoreKeyError(
      "key_ill_formed",
      "Cannot make a store key: its text has a lone surrogate",
    );
  }
  return text;
}

function userKey(key: string): Deno.KvKey {
  return ["users", keyText(key)];
}

function sessionKey(id: string): Deno.KvKey {
  return ["sessions", keyText(id)];
}

function userSessionsPrefix(key: string): Deno.KvKey {
  return ["sessions_by_user", keyText(key)];
}

function userSessionKey(key: string, id: string): Deno.KvKey {
  return [...userSessionsPrefix(key), keyText(id)];
}

function failureKey(scope: FailureScope, key: string): Deno.KvKey {
  return ["login_failures", scope, keyText(key)];
}

function signupKey(address: string): Deno.KvKey {
  return ["signups_by_address", keyText(address)];
}

function settingKey(name: string): Deno.KvKey {
  return ["settings", keyText(name)];
}

/** Options for {@linkcode Store.saveSession}. */
export interface SaveSessionOptions {
  /** Refuse the write unless the session is still at this version. */
  sessionVersion?: string | null;
  /** Refuse the write unless the user is still at this version. */
  userVersion?: string;
  /** A replacement for the user record, written in the same operation. */
  user?: UserRecord;
  /** How long KV keeps the record, as housekeeping. */
  expireInMs: number;
}

/**
 * Users, sessions and settings on one Deno KV database. Every method that
 * takes a text to key a record by refuses, with {@linkcode StoreKeyError},
 * one over {@linkcode MAX_KEY_TEXT_BYTES} bytes or with a lone surrogate.
 */
export class Store {
  readonly #kv: Deno.Kv;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Answers whether the database responds; throws if it does not. */
  async ping(): Promise<void> {
    await this.#kv.get(settingKey("ping"));
  }

  /** The user stored under a normalised username, if any. */
  async getUser(key: string): Promise<Versioned<UserRecord> | null> {
    const entry = await this.#kv.get<UserRecord>(userKey(key));
    return entry.versionstamp === null ? null : entry as Versioned<UserRecord>;
  }

  /**
   * Stores a new user unless the key is taken, in one atomic check-and-set
   * so that racing signups cannot both succeed.
   *
   * @returns `false` if a user with that key already exists.
   */
  async createUser(key: string, user: UserRecord): Promise<boolean> {
    const result = await this.#kv.atomic()
      .check({ key: userKey(key), versionstamp: null })
      .set(userKey(key), user)
      .commit();
    return result.ok;
  }

  /**
   * Writes a session, and optionally its user, if both are still at the
   * versions given.
   *
   * @returns `false` if either changed in between.
   */
  async saveSession(
    session: SessionRecord,
    options: SaveSessionOptions,
  ): Promise<boolean> {
    const op = this.#kv.atomic();
    if (options.sessionVersion !== undefined) {
      op.check({
        key: sessionKey(session.id),
        versionstamp: options.sessionVersion,
      });
    }
    if (options.userVersion !== undefined) {
      op.check({
        key: userKey(session.userKey),
        versionstamp: options.userVersion,
      });
    }
    if (options.user) op.set(userKey(session.userKey), options.user);
    const expireIn = Math.max(1, options.expireInMs);
    op.set(sessionKey(session.id), session, { expireIn });
    op.set(userSessionKey(session.userKey, session.id), session.expiresAt, {
      expireIn,
    });
    return (await op.commit()).ok;
  }

  /** The session with that id, if it still exists. */
  async getSession(id: string): Promise<Versioned<SessionRecord> | null> {
    const entry = await this.#kv.get<SessionRecord>(sessionKey(id));
    if (entry.versionstamp === null) return null;
    return entry as Versioned<SessionRecord>;
  }

  /** Removes one session. */
  async deleteSession(key: string, id: string): Promise<void> {
    await this.#kv.atomic()
      .delete(sessionKey(id))
      .delete(userSessionKey(key, id))
      .commit();
  }

  /** The ids of every session of a user. */
  async listSessionIds(key: string): Promise<string[]> {
    const ids: string[] = [];
    const entries = this.#kv.list({ prefix: userSessionsPrefix(key) });
    for await (const entry of entries) ids.push(String(entry.key[2]));
    return ids;
  }

  /**
   * Replaces a user's record if it is unchanged since it was read, and
   * removes the given sessions: the user and the first batch of sessions
   * in one atomic operation, any further sessions after it.
   *
   * @returns `false` if the user changed in between; nothing is written.
   */
  updateUser(
    key: string,
    versionstamp: string,
    user: UserRecord,
    revokeSessionIds: string[],
  ): Promise<boolean> {
    return this.#writeUser(key, versionstamp, user, revokeSessionIds);
  }

  /**
   * Removes a user, if unchanged since it was read, with all its sessions.
   *
   * @returns `false` if the user changed in between; nothing is removed.
   */
  deleteUser(key: string, versionstamp: string): Promise<boolean> {
    return this.#writeUser(key, versionstamp, null, null);
  }

  async #writeUser(
    key: string,
    versionstamp: string,
    user: UserRecord | null,
    sessionIds: string[] | null,
  ): Promise<boolean> {
    const ids = sessionIds ?? await this.listSessionIds(key);
    const perSession = 2;
    const firstBatch = Math.floor((MAX_MUTATIONS - 2) / perSession);
    const op = this.#kv.atomic()
      .check({ key: userKey(key), versionstamp });
    if (user) op.set(userKey(key), user);
    else op.delete(userKey(key));
    for (const id of ids.slice(0, firstBatch)) {
      op.delete(sessionKey(id)).delete(userSessionKey(key, id));
    }
    if (!(await op.commit()).ok) return false;
    // A login that read the user before a delete may have saved its
    // session after the listing; with the user gone no further one can, so
    // the rest is listed again rather than taken from the first listing.
    const rest = user ? ids.slice(firstBatch) : await this.listSessionIds(key);
    await this.#deleteSessions(key, rest);
    return true;
  }

  async #deleteSessions(key: string, ids: string[]): Promise<void> {
    const batch = Math.floor(MAX_MUTATIONS / 2);
    for (let start = 0; start < ids.length; start += batch) {
      const op = this.#kv.atomic();
      for (const id of ids.slice(start, start + batch)) {
        op.delete(sessionKey(id)).delete(userSessionKey(key, id));
      }
      await op.commit();
    }
  }

  /** The failed logins counted for a username or an address, if any. */
  async getFailures(
    scope: FailureScope,
    key: string,
  ): Promise<FailureCount | null> {
    return (await this.#kv.get<FailureCount>(failureKey(scope, key))).value;
  }

  /**
   * Counts one more failed login: in the running window, or in a new one
   * of `windowMs` if there is none or it ended by `now`.
   */
  async addFailure(
    scope: FailureScope,
    key: string,
    options: { now: number; windowMs: number },
  ): Promise<FailureCount> {
    const counted = await this.reserveFailure(scope, key, {
      ...options,
      limit: Infinity,
    });
    return counted.count;
  }

  /**
   * Counts one more failed login, as {@linkcode Store.addFailure} does,
   * unless `limit` are already counted in the running window; the check
   * and the count are one atomic step, so racing attempts cannot pass the
   * limit together.
   */
  async reserveFailure(
    scope: FailureScope,
    key: string,
    options: ReserveOptions,
  ): Promise<Reservation> {
    return await this.#reserve(failureKey(scope, key), options);
  }

  /** Takes back one counted failure, as for an attempt that succeeded. */
  async releaseFailure(
    scope: FailureScope,
    key: string,
    options: { now: number },
  ): Promise<void> {
    await this.#release(failureKey(scope, key), options.now);
  }

  /** The signups counted for a client address, if any. */
  async getSignups(address: string): Promise<WindowCount | null> {
    return (await this.#kv.get<WindowCount>(signupKey(address))).value;
  }

  /**
   * Counts one more signup from an address unless `limit` are already
   * counted in the running window, in one atomic step as
   * {@linkcode Store.reserveFailure} does.
   */
  async reserveSignup(
    address: string,
    options: ReserveOptions,
  ): Promise<Reservation> {
    return await this.#reserve(signupKey(address), options);
  }

  /** Takes back one counted signup, as for one the service could not do. */
  async releaseSignup(
    address: string,
    options: { now: number },
  ): Promise<void> {
    await this.#release(signupKey(address), options.now);
  }

  async #reserve(
    kvKey: Deno.KvKey,
    options: ReserveOptions,
  ): Promise<Reservation> {
    for (;;) {
      const entry = await this.#kv.get<WindowCount>(kvKey);
      const running = entry.value && entry.value.resetAt > options.now
        ? entry.value
        : null;
      if (running && running.count >= options.limit) {
        return { ok: false, count: running };
      }
      const next: WindowCount = running
        ? { count: running.count + 1, resetAt: running.resetAt }
        : { count: 1, resetAt: options.now + options.windowMs };
      const result = await this.#kv.atomic()
        .check(entry)
        .set(kvKey, next, { expireIn: next.resetAt - options.now })
        .commit();
      if (result.ok) return { ok: true, count: next };
    }
  }

  async #release(kvKey: Deno.KvKey, now: number): Promise<void> {
    for (;;) {
      const entry = await this.#kv.get<WindowCount>(kvKey);
      if (!entry.value) return;
      const op = this.#kv.atomic().check(entry);
      if (entry.value.count <= 1) op.delete(kvKey);
      else {
        op.set(kvKey, { ...entry.value, count: entry.value.count - 1 }, {
          expireIn: Math.max(1, entry.value.resetAt - now),
        });
      }
      if ((await op.commit()).ok) return;
    }
  }

  /** Forgets the failed logins of a username or an address. */
  async clearFailures(scope: FailureScope, key: string): Promise<void> {
    await this.#kv.delete(failureKey(scope, key));
  }

  /** A stored setting, if set. */
  async getSetting<T>(name: string): Promise<T | null> {
    return (await this.#kv.get<T>(settingKey(name))).value;
  }

  /**
   * Stores a setting unless one is already there, and returns whichever
   * value is stored afterwards, so that concurrent starts agree.
   */
  async initSetting<T>(name: string, value: T): Promise<T> {
    const result = await this.#kv.atomic()
      .check({ key: settingKey(name), versionstamp: null })
      .set(settingKey(name), value)
      .commit();
    if (result.ok) return value;
    return (await this.getSetting<T>(name)) ?? value;
  }
}
