/**
 * Login sessions and their token pairs: start, refresh with rotation and
 * reuse detection, end.
 *
 * @module
 */
import { AuthError } from "./auth_error.ts";
import type { Clock } from "./clock.ts";
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
  /** Also require that the token's session has not ended. */
  liveSession?: boolean;
}

// Optimistic writes that lose a race re-read and try again this often.
const MAX_ATTEMPTS = 5;

/** Starts, refreshes and ends sessions. */
export class Sessions {
  readonly #options: SessionsOptions;

  constructor(options: SessionsOptions) {
    this.#options = options;
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
    return await this.#pair(username, session);
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
        if (saved) return await this.#pair(claims.sub, next);
        continue;
      }
      if (this.#inGracePeriod(session, claims.gen, now)) {
        return await this.#pair(claims.sub, session);
      }
      if (claims.gen < session.generation) {
        await store.deleteSession(session.userKey, session.id);
        throw new AuthError("refresh_reused", "Refresh token was reused");
      }
      throw new AuthError("refresh_invalid", "Refresh token is unknown");
    }
    throw new AuthError("refresh_invalid", "Refresh kept losing races");
  }

  /**
   * Checks an access token and returns its claims.
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
    if (options.liveSession) {
      const entry = await this.#options.store.getSession(claims.sid);
      if (entry?.value.userKey !== usernameKey(claims.sub)) {
        throw new AuthError("access_invalid", "Session has ended");
      }
    }
    return claims;
  }

  /**
   * The claims of an access token verified before and not yet expired, at
   * once; `undefined` when {@linkcode Sessions.authenticate} must decide.
   * It does not look at the session.
   */
  recall(accessToken: string): AccessClaims | undefined {
    return this.#options.tokens.recallAccess(accessToken);
  }

  /** Ends a session; its refresh tokens stop working. */
  async end(claims: AccessClaims): Promise<void> {
    await this.#options.store.deleteSession(
      usernameKey(claims.sub),
      claims.sid,
    );
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

  async #pair(username: string, session: SessionRecord): Promise<TokenPair> {
    const { tokens, clock, accessTtlMs } = this.#options;
    const refreshToken = await tokens.signRefresh({
      sub: username,
      sid: session.id,
      jti: session.jti,
      gen: session.generation,
      iat: session.issuedAt / 1000,
      exp: session.expiresAt / 1000,
    });
    const remainingMs = session.expiresAt - clock.now();
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
