/**
 * Accounts: sign up, log in, profile, password change and deletion.
 *
 * @module
 */
import { AuthError, type AuthErrorCode } from "./auth_error.ts";
import type { Clock } from "./clock.ts";
import type { LoginThrottle } from "./login_throttle.ts";
import type { PasswordHasher } from "./passwords.ts";
import {
  hashCost,
  MAX_PASSWORD_BYTES,
  passwordByteLength,
} from "./passwords.ts";
import type { Sessions, TokenPair } from "./sessions.ts";
import type { SignupLimit } from "./signup_limit.ts";
import type { Store, UserRecord, Versioned } from "./store.ts";
import type { AccessClaims } from "./tokens.ts";
import { usernameKey, usernameProblem } from "./username.ts";

/** What the service shows of an account. */
export interface Profile {
  username: string;
  createdAt: number;
}

/** Options for {@linkcode Accounts}. */
export interface AccountsOptions {
  store: Store;
  sessions: Sessions;
  hasher: PasswordHasher;
  clock: Clock;
  /** The bcrypt cost every stored hash should have. */
  bcryptCost: number;
  /** Counts and limits every password check, at login and after. */
  throttle: LoginThrottle;
  signupLimit: SignupLimit;
}

/**
 * Options for the methods that count what a client does: signup, login,
 * password change and deletion.
 */
export interface ClientOptions {
  /** The client's address, for counting attempts per address. */
  address?: string | undefined;
}

// Optimistic writes that lose a race re-read and try again this often.
const MAX_ATTEMPTS = 3;

// Logins of one account racing each other retry without hashing, so they
// may try more often.
const MAX_LOGIN_ATTEMPTS = 20;

/** Creates, authenticates, changes and deletes accounts. */
export class Accounts {
  readonly #options: AccountsOptions;
  #dummyHash: Promise<string> | undefined;

  constructor(options: AccountsOptions) {
    this.#options = options;
  }

  /**
   * Makes the stand-in hash that unknown names are checked against, so the
   * first such login takes no longer than any other failed one. If hashing
   * fails now, the first login for an unknown name tries again.
   */
  async prepare(): Promise<void> {
    await this.#fakeHash().catch(() => undefined);
  }

  /**
   * Creates an account; the caller has checked the password policy. Each
   * signup from a known address counts towards its limit, a taken name
   * included: it cost a hash too.
   *
   * @throws {AuthError} `account_exists` if the name is taken in any case.
   * @throws {SignupLimitError} if the address is at its limit.
   */
  async signUp(
    username: string,
    password: string,
    options: ClientOptions = {},
  ): Promise<Profile> {
    const { signupLimit } = this.#options;
    await signupLimit.reserve(options.address);
    try {
      return await this.#signUp(username, password);
    } catch (error) {
      if (!hasCode(error, "account_exists")) {
        await signupLimit.release(options.address);
      }
      throw error;
    }
  }

  async #signUp(username: string, password: string): Promise<Profile> {
    const { store, hasher, clock } = this.#options;
    const passwordHash = await hasher.hash(password);
    const now = clock.now();
    const user: UserRecord = {
      username,
      passwordHash,
      createdAt: now,
      updatedAt: now,
    };
    if (!await store.createUser(usernameKey(username), user)) {
      throw new AuthError("account_exists", "Cannot sign up: name is taken");
    }
    return { username: user.username, createdAt: user.createdAt };
  }

  /**
   * Checks a username and password and starts a session. An unknown name
   * costs the same bcrypt work as a wrong password, so the answer's timing
   * does not tell which names exist.
   *
   * @throws {AuthError} `invalid_credentials`.
   * @throws {ThrottledError} if the name or address failed too often.
   */
  async logIn(
    username: string,
    password: string,
    options: ClientOptions = {},
  ): Promise<TokenPair> {
    const attempt = { userKey: attemptKey(username), ...options };
    return await this.#options.throttle.guard(
      attempt,
      () => this.#logIn(username, password),
    );
  }

  async #logIn(username: string, password: string): Promise<TokenPair> {
    let entry = await this.#checkPassword(username, password);
    for (let tries = 1;; tries++) {
      // The user record is always rewritten, which moves its version: a
      // password change or deletion racing this login then retries and
      // sees the new session.
      const user = await this.#loggedInUser(entry.value, password);
      try {
        return await this.#options.sessions.start(entry.value.username, {
          userVersion: entry.versionstamp,
          user,
        });
      } catch (error) {
        const changed = hasCode(error, "account_changed");
        if (!changed || tries >= MAX_LOGIN_ATTEMPTS) throw error;
        entry = await this.#recheck(username, password, entry);
      }
    }
  }

  // Another login moving the record is no reason to run bcrypt again: only
  // a changed hash needs the password checked anew.
  async #recheck(
    username: string,
    password: string,
    checked: Versioned<UserRecord>,
  ): Promise<Versioned<UserRecord>> {
    const fresh = await this.#options.store.getUser(usernameKey(username));
    if (!fresh) throw invalidCredentials();
    if (fresh.value.passwordHash === checked.value.passwordHash) return fresh;
    return await this.#checkPassword(username, password);
  }

  /**
   * The profile of the account an access token names.
   *
   * @throws {AuthError} `access_invalid` if the account is gone.
   */
  async profile(claims: AccessClaims): Promise<Profile> {
    const entry = await this.#accountOf(claims);
    return {
      username: entry.value.username,
      createdAt: entry.value.createdAt,
    };
  }

  /**
   * Replaces the password after checking the current one, and ends every
   * session but the one making the change. The check is counted and
   * limited as a login is: a stolen access token must not become a way
   * to guess the password.
   *
   * @throws {AuthError} `invalid_credentials` if the current password is
   * wrong, `account_changed` if the account changed meanwhile.
   * @throws {ThrottledError} if the name or address failed too often.
   */
  async changePassword(
    claims: AccessClaims,
    passwords: { current: string; next: string },
    options: ClientOptions = {},
  ): Promise<void> {
    await this.#options.throttle.guard(
      { userKey: usernameKey(claims.sub), ...options },
      () => this.#changePassword(claims, passwords),
    );
  }

  async #changePassword(
    claims: AccessClaims,
    passwords: { current: string; next: string },
  ): Promise<void> {
    const { store, hasher, clock, sessions } = this.#options;
    const key = usernameKey(claims.sub);
    let passwordHash: string | undefined;
    await this.#writeChecked(claims, passwords.current, async (entry) => {
      passwordHash ??= await hasher.hash(passwords.next);
      const others = (await store.listSessionIds(key))
        .filter((id) => id !== claims.sid);
      const user: UserRecord = {
        ...entry.value,
        passwordHash,
        updatedAt: clock.now(),
      };
      if (!await store.updateUser(key, entry.versionstamp, user, others)) {
        return false;
      }
      sessions.ended(others);
      return true;
    });
  }

  /**
   * Deletes the account and every session of it, after checking the
   * password, which is counted and limited as a login is.
   *
   * @throws {AuthError} `invalid_credentials` if the password is wrong,
   * `account_changed` if the account changed meanwhile.
   * @throws {ThrottledError} if the name or address failed too often.
   */
  async deleteAccount(
    claims: AccessClaims,
    password: string,
    options: ClientOptions = {},
  ): Promise<void> {
    await this.#options.throttle.guard(
      { userKey: usernameKey(claims.sub), ...options },
      () => this.#deleteAccount(claims, password),
    );
  }

  async #deleteAccount(claims: AccessClaims, password: string): Promise<void> {
    const { store, sessions } = this.#options;
    const key = usernameKey(claims.sub);
    await this.#writeChecked(claims, password, async (entry) => {
      const ids = await store.listSessionIds(key);
      if (!await store.deleteUser(key, entry.versionstamp)) return false;
      sessions.ended(ids);
      return true;
    });
  }

  /**
   * Checks the password of the account a token names, then runs `write`
   * on the account as read, which answers `false` if the account changed
   * meanwhile; then reads it again and retries.
   */
  async #writeChecked(
    claims: AccessClaims,
    password: string,
    write: (entry: Versioned<UserRecord>) => Promise<boolean>,
  ): Promise<void> {
    let entry = await this.#accountOf(claims);
    await this.#requirePassword(entry, password);
    for (let attempt = 1;; attempt++) {
      if (await write(entry)) return;
      if (attempt >= MAX_ATTEMPTS) throw accountChanged();
      entry = await this.#recheckAccount(claims, password, entry);
    }
  }

  // A login that moved the record left its hash alone: the check made
  // still holds, and bcrypt need not run again. A new hash (another
  // password change, a cost upgrade) is checked anew; the password was
  // right when checked, so if it no longer matches, the account changed
  // under the request: a race to answer as one, not a wrong password to
  // count and slow down.
  async #recheckAccount(
    claims: AccessClaims,
    password: string,
    checked: Versioned<UserRecord>,
  ): Promise<Versioned<UserRecord>> {
    const fresh = await this.#accountOf(claims);
    const hash = fresh.value.passwordHash;
    if (hash === checked.value.passwordHash) return fresh;
    if (await this.#options.hasher.verify(password, hash)) return fresh;
    throw accountChanged();
  }

  async #accountOf(claims: AccessClaims): Promise<Versioned<UserRecord>> {
    const entry = await this.#options.store.getUser(usernameKey(claims.sub));
    if (!entry) throw new AuthError("access_invalid", "Account is gone");
    return entry;
  }

  async #checkPassword(
    username: string,
    password: string,
  ): Promise<Versioned<UserRecord>> {
    const usable = usernameProblem(username) === undefined &&
      passwordByteLength(password) <= MAX_PASSWORD_BYTES;
    const entry = usable
      ? await this.#options.store.getUser(usernameKey(username))
      : null;
    if (!entry) {
      await this.#options.hasher.verify(password, await this.#fakeHash());
      throw invalidCredentials();
    }
    await this.#requirePassword(entry, password);
    return entry;
  }

  async #requirePassword(
    entry: Versioned<UserRecord>,
    password: string,
  ): Promise<void> {
    const tooLong = passwordByteLength(password) > MAX_PASSWORD_BYTES;
    const hash = entry.value.passwordHash;
    const matches = await this.#options.hasher.verify(password, hash);
    if (tooLong || !matches) throw invalidCredentials();
  }

  async #loggedInUser(
    user: UserRecord,
    password: string,
  ): Promise<UserRecord> {
    const { bcryptCost, hasher, clock } = this.#options;
    const now = clock.now();
    if (hashCost(user.passwordHash) >= bcryptCost) {
      return { ...user, lastLoginAt: now };
    }
    const passwordHash = await hasher.hash(password);
    return { ...user, passwordHash, updatedAt: now, lastLoginAt: now };
  }

  // A hash at the configured cost of a password nobody knows, made once.
  // A failed attempt is forgotten, or every later unknown name would fail.
  #fakeHash(): Promise<string> {
    this.#dummyHash ??= this.#options.hasher.hash(crypto.randomUUID())
      .catch((error) => {
        this.#dummyHash = undefined;
        throw error;
      });
    return this.#dummyHash;
  }
}

function hasCode(error: unknown, code: AuthErrorCode): boolean {
  return error instanceof AuthError && error.code === code;
}

function invalidCredentials(): AuthError {
  return new AuthError("invalid_credentials", "Wrong username or password");
}

function accountChanged(): AuthError {
  return new AuthError("account_changed", "Cannot write account: it changed");
}

// A name signup would refuse can have no account, so it gets no count of
// its own, only its address's: its text may not even fit in a store key
// (NFKC makes some single characters 18).
function attemptKey(username: string): string | undefined {
  if (usernameProblem(username) !== undefined) return undefined;
  return usernameKey(username);
}
