/**
 * Persistence of users, sessions and settings in Deno KV. The only module
 * that touches `Deno.Kv`; it knows nothing of HTTP or tokens.
 *
 * @module
 */
import {
  failureKey,
  sessionKey,
  settingKey,
  signupKey,
  userKey,
  userSessionKey,
  userSessionsPrefix,
} from "./store_keys.ts";
import type {
  FailureCount,
  FailureScope,
  Reservation,
  ReserveOptions,
  SessionRecord,
  UserRecord,
  Versioned,
  WindowCount,
} from "./store_records.ts";

export {
  MAX_KEY_TEXT_BYTES,
  StoreKeyError,
  type StoreKeyErrorCode,
} from "./store_keys.ts";
export type * from "./store_records.ts";

// Deno KV refuses atomic operations with more mutations than this, so
// revoking many sessions at once is split into batches.
const MAX_MUTATIONS = 1000;

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
