/**
 * Signing and checking the service's JWTs. The only module that imports
 * `jose`.
 *
 * @module
 */
import { base64url, errors, jwtVerify, SignJWT } from "jose";
import type { Clock } from "./clock.ts";

/** The one algorithm tokens are signed and accepted with. */
export const ALGORITHM = "HS256";

/** Which of the two kinds a token is; carried in the `token_use` claim. */
export type TokenUse = "access" | "refresh";

/** The claims of an access token. */
export interface AccessClaims {
  sub: string;
  sid: string;
  jti: string;
  iat: number;
  exp: number;
}

/** The claims of a refresh token. */
export interface RefreshClaims extends AccessClaims {
  /** The session's rotation counter when this token was issued. */
  gen: number;
}

/** Why a token was refused: `expired`, or `invalid` for anything else. */
export type TokenErrorCode = "expired" | "invalid";

/** A token that cannot be accepted. */
export class TokenError extends Error {
  readonly code: TokenErrorCode;

  constructor(code: TokenErrorCode, message: string) {
    super(message);
    this.name = "TokenError";
    this.code = code;
  }
}

/** Options for {@linkcode createTokens}. */
export interface TokensOptions {
  clock: Clock;
  accessTtlMs: number;
  /** How many verified access tokens to remember; 10 000 by default. */
  cacheSize?: number;
}

/** Signs and checks the service's tokens with one key. */
export interface Tokens {
  /** Signs an access token for a session, valid from now. */
  signAccess(sub: string, sid: string): Promise<string>;
  /** Signs a refresh token; the same claims always give the same token. */
  signRefresh(claims: RefreshClaims): Promise<string>;
  /** @throws {TokenError} unless an unexpired access token. */
  verifyAccess(token: string): Promise<AccessClaims>;
  /**
   * The claims of an access token already verified and not yet expired,
   * without waiting; `undefined` for any other token, which
   * `verifyAccess` must then decide on.
   */
  recallAccess(token: string): AccessClaims | undefined;
  /** @throws {TokenError} unless an unexpired refresh token. */
  verifyRefresh(token: string): Promise<RefreshClaims>;
}

/**
 * Creates the token functions for an HS256 secret.
 *
 * @example Usage
 * ```ts
 * const tokens = await createTokens(secret, { clock, accessTtlMs: 1800000 });
 * const token = await tokens.signAccess("alice", sessionId);
 * ```
 */
export async function createTokens(
  secret: Uint8Array,
  options: TokensOptions,
): Promise<Tokens> {
  const key = await crypto.subtle.importKey(
    "raw",
    secret as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const { clock } = options;
  const cacheSize = options.cacheSize ?? 10_000;
  // A client presents the same access token on every call for its whole
  // lifetime, and an HMAC check costs more than the rest of a request. A
  // token already verified, byte for byte, needs only its expiry checked.
  const verified = new Map<string, AccessClaims>();

  function remember(token: string, claims: AccessClaims): void {
    if (verified.size >= cacheSize) {
      const oldest = verified.keys().next().value;
      if (oldest !== undefined) verified.delete(oldest);
    }
    verified.set(token, claims);
  }

  async function sign(use: TokenUse, claims: AccessClaims, extra = {}) {
    return await new SignJWT({ ...extra, sid: claims.sid, token_use: use })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setSubject(claims.sub)
      .setJti(claims.jti)
      .setIssuedAt(claims.iat)
      .setExpirationTime(claims.exp)
      .sign(key);
  }

  async function verify(token: string, use: TokenUse) {
    if (!isCanonical(token)) {
      throw new TokenError("invalid", "Token is malformed");
    }
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: [ALGORITHM],
        currentDate: new Date(clock.now()),
        requiredClaims: ["sub", "jti", "iat", "exp"],
      });
      if (payload.token_use !== use || typeof payload.sid !== "string") {
        const kind = use === "access" ? "an access" : "a refresh";
        throw new TokenError("invalid", `Token is not ${kind} token`);
      }
      return payload;
    } catch (error) {
      throw toTokenError(error);
    }
  }

  return {
    signAccess(sub, sid) {
      const iat = Math.floor(clock.now() / 1000);
      const exp = iat + Math.ceil(options.accessTtlMs / 1000);
      return sign("access", { sub, sid, jti: crypto.randomUUID(), iat, exp });
    },
    signRefresh(claims) {
      return sign("refresh", claims, { gen: claims.gen });
    },
    recallAccess(token) {
      const known = verified.get(token);
      return known && known.exp * 1000 > clock.now() ? known : undefined;
    },
    async verifyAccess(token) {
      const known = verified.get(token);
      if (known) {
        if (known.exp * 1000 > clock.now()) return known;
        verified.delete(token);
        throw new TokenError("expired", "Token expired");
      }
      const claims = Object.freeze(claimsOf(await verify(token, "access")));
      remember(token, claims);
      return claims;
    },
    async verifyRefresh(token) {
      const payload = await verify(token, "refresh");
      if (!Number.isSafeInteger(payload.gen)) {
        throw new TokenError("invalid", "Refresh token has no generation");
      }
      return { ...claimsOf(payload), gen: payload.gen as number };
    },
  };
}

// Base64url leaves spare bits in a part's last character, and decoders
// ignore them and a stray "=": one token could then be written several
// ways. Only the one way we write it is accepted (RFC 7515 section 2).
function isCanonical(token: string): boolean {
  const parts = token.split(".");
  if (parts.length !== 3) return false;
  return parts.every((part) => {
    if (!/^[A-Za-z0-9_-]+$/.test(part)) return false;
    try {
      return base64url.encode(base64url.decode(part)) === part;
    } catch {
      return false;
    }
  });
}

function claimsOf(payload: Record<string, unknown>): AccessClaims {
  return {
    sub: String(payload.sub),
    sid: String(payload.sid),
    jti: String(payload.jti),
    iat: Number(payload.iat),
    exp: Number(payload.exp),
  };
}

// jose's failures are told apart by their stable `code`, never by message.
function toTokenError(error: unknown): TokenError {
  if (error instanceof TokenError) return error;
  if (!(error instanceof errors.JOSEError)) {
    return new TokenError("invalid", "Token could not be read");
  }
  if (error.code === "ERR_JWT_EXPIRED") {
    return new TokenError("expired", "Token expired");
  }
  return new TokenError("invalid", `Token refused: ${error.code}`);
}
