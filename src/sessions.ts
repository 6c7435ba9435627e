/**
 * Login sessions and their token pairs: start, refresh with rotation and
 * reuse detection, end.
 *
 * @module
 */
import { AuthError } from "./auth_error.ts";
import type { Clock } from "./clock.ts";
import { RecentSessions } from "./recent_sessions.ts";
import type { SessionRecord, Store, UserRecord } from "./store.ts";
import { TokenError } from "./tokens.ts";
import type { AccessClaims, Tokens } from "./tokens.ts";
import { usernameKey } from "./username.ts";

/** What a login or a refresh hands to the client. */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** Seconds until the refresh token expires. */
  refreshExpiresIn: number;
}

/** Options for {@linkcode Sessions}. */
export interface SessionsOptions {
  store: Store;
  tokens: Tokens;
  clock: Clock;
  accessTtlMs: number;
  refreshTtlMs: number;
  /** How long a just-rotated refresh token may still be presented. */
  reuseIntervalMs: number;
  /**
   * How long a session seen alive in the store is trusted without reading
   * it again, on routes that do not ask for a live session; 1 s by default.
   */
  sessionCheckIntervalMs?: number;
}

/** Options for {@linkcode Sessions.start}. */
export interface StartSessionOptions {
  /** The version of the user record the password was checked against. */
  userVersion: string;
  /** A replacement user record to write with the session (cost upgrade). */
  user?: UserRecord | undefined;
}

/** Options for {@linkcode Sessions.authenticate}. */
export interface AuthenticateOptions {
  /**
   * Read the session from the store whatever was seen of it lately, for
   * routes that act on the account.
   */
  liveSession?: boolean;
}

/** How long a session seen alive is trusted, unless configured. */
export const SESSION_CHECK_INTERVAL_MS = 1000;

// Optimistic writes that lose a race re-read and try again this often.
const MAX_ATTEMPTS = 5;

/** Starts, refreshes and ends sessions. */
export class Sessions {
  readonly #options: SessionsOptions;
  readonly #recent: RecentSessions;

  constructor(options: SessionsOptions) {
    this.#options = options;
    this.#recent = new RecentSessions({
      clock: options.clock,
      freshForMs: options.sessionCheckIntervalMs ?? SESSION_CHECK_INTERVAL_MS,
    });
  }

  /**
   * Starts a session for a user whose password was just checked.
   *
   * @throws {AuthError} `account_changed` if the user record changed since
   * it was read.
   */
  async start(
    username: string,
    options: StartSessionOptions,
  ): Promise<TokenPair> {
    const now = this.#options.clock.now();
    const session = this.#nextToken({
      id: crypto.randomUUID(),
      userKey: usernameKey(username),
      generation: -1,
      jti: "",
      issuedAt: 0,
      expiresAt: 0,
      rotatedAt: 0,
      createdAt: now,
    }, now);
    session.rotatedAt = 0;
    const saved = await this.#options.store.saveSession(session, {
      sessionVersion: null,
      userVersion: options.userVersion,
      user: options.user,
      expireInMs: session.expiresAt - now,
    });
    if (!saved) {
      throw new AuthError("account_changed", "Cannot log in: account changed");
    }
    return await this.#pair(username, session, now);
  }

  /**
   * Exchanges a refresh token for a new pair, rotating it.
   *
   * @throws {AuthError} `refresh_expired`, `refresh_invalid`, or
   * `refresh_reused` (the session is then revoked).
   */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const claims = await this.#options.tokens.verifyRefresh(refreshToken)
      .catch((error) => {
        throw refreshError(error);
      });
    const { store, clock } = this.#options;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const entry = await store.getSession(claims.sid);
      const session = entry?.value;
      const now = clock.now();
      if (!entry || !session || session.userKey !== usernameKey(claims.sub)) {
        throw new AuthError("refresh_invalid", "Session has ended");
      }
      if (claims.gen === session.generation && claims.jti === session.jti) {
        const next = this.#nextToken(session, now);
        const saved = await store.saveSession(next, {
          sessionVersion: entry.versionstamp,
          expireInMs: next.expiresAt - now,
        });
        if (saved) return await this.#pair(claims.sub, next, now);
        continue;
      }
      if (this.#inGracePeriod(session, claims.gen, now)) {
        return await this.#pair(claims.sub, session, now);
      }
      if (claims.gen < session.generation) {
        await store.deleteSession(session.userKey, session.id);
        this.#recent.sawEnd(session.id);
        throw new AuthError("refresh_reused", "Refresh token was reused");
      }
      throw new AuthError("refresh_invalid", "Refresh token is unknown");
    }
    throw new AuthError("refresh_invalid", "Refresh kept losing races");
  }

  /**
   * Checks an access token and that its session has not ended, and
   * returns its claims. The session is read from the store unless it was
   * seen alive within the check interval and `liveSession` is not asked.
   *
   * @throws {AuthError} `access_expired` or `access_invalid`.
   */
  async authenticate(
    accessToken: string,
    options: AuthenticateOptions = {},
  ): Promise<AccessClaims> {
    const claims = await this.#options.tokens.verifyAccess(accessToken)
      .catch((error) => {
        throw accessError(error);
      });
    if (options.liveSession || !this.#recent.isFresh(claims.sid)) {
      const entry = await this.#options.store.getSession(claims.sid);
      if (entry?.value.userKey !== usernameKey(claims.sub)) {
        this.#recent.sawEnd(claims.sid);
        throw new AuthError("access_invalid", "Session has ended");
      }
      this.#recent.sawAlive(claims.sid);
    }
    return claims;
  }

  /**
   * The claims of an access token verified before, not yet expired, whose
   * session was seen alive within the check interval, at once; otherwise
   * `undefined`, and {@linkcode Sessions.authenticate} must decide.
   */
  recall(accessToken: string): AccessClaims | undefined {
    const claims = this.#options.tokens.recallAccess(accessToken);
    return claims && this.#recent.isFresh(claims.sid) ? claims : undefined;
  }

  /** Ends a session; its tokens stop working. */
  async end(claims: AccessClaims): Promise<void> {
    await this.#options.store.deleteSession(
      usernameKey(claims.sub),
      claims.sid,
    );
    this.#recent.sawEnd(claims.sid);
  }

  /**
   * Notes sessions that ended in the store by other means (a password
   * change, a deleted account), so this instance refuses their tokens at
   * once rather than after the check interval.
   */
  ended(ids: readonly string[]): void {
    for (const id of ids) this.#recent.sawEnd(id);
  }

  #nextToken(session: SessionRecord, now: number): SessionRecord {
    const iat = Math.floor(now / 1000);
    const exp = iat + Math.ceil(this.#options.refreshTtlMs / 1000);
    return {
      ...session,
      generation: session.generation + 1,
      jti: crypto.randomUUID(),
      issuedAt: iat * 1000,
      expiresAt: exp * 1000,
      rotatedAt: now,
    };
  }

  // Two tabs refreshing at once, or a retry after a lost answer, present
  // the token that was current a moment ago; they get the current one.
  #inGracePeriod(session: SessionRecord, gen: number, now: number): boolean {
    return gen === session.generation - 1 && session.rotatedAt > 0 &&
      now - session.rotatedAt < this.#options.reuseIntervalMs;
  }

  // `now` is when the session was read or made: counting from a later
  // moment would shorten the lifetime told by a second now and then.
  async #pair(
    username: string,
    session: SessionRecord,
    now: number,
  ): Promise<TokenPair> {
    const { tokens, accessTtlMs } = this.#options;
    const refreshToken = await tokens.signRefresh({
      sub: username,
      sid: session.id,
      jti: session.jti,
      gen: session.generation,
      iat: session.issuedAt / 1000,
      exp: session.expiresAt / 1000,
    });
    const remainingMs = session.expiresAt - now;
    return {
      accessToken: await tokens.signAccess(username, session.id),
      refreshToken,
      expiresIn: Math.ceil(accessTtlMs / 1000),
      refreshExpiresIn: Math.max(0, Math.ceil(remainingMs / 1000)),
    };
  }
}

function refreshError(error: unknown): unknown {
  if (!(error instanceof TokenError)) return error;
  return error.code === "expired"
    ? new AuthError("refresh_expired", "Refresh token expired")
    : new AuthError("refresh_invalid", error.message);
}

function accessError(error: unknown): unknown {
  if (!(error instanceof TokenError)) return error;
  return error.code === "expired"
    ? new AuthError("access_expired", "Access token expired")
    : new AuthError("access_invalid", error.message);
}
