/**
 * The token-pair answer of login, refresh and the token endpoint.
 *
 * @module
 */
import { jsonResponse } from "./problem.ts";
import type { TokenPair } from "./sessions.ts";

/** The token pair as the client receives it. */
export interface TokenPairBody {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  expires_in: number;
  refresh_expires_in: number;
}

/**
 * Answers with a token pair, never to be cached (RFC 6749 section 5.1).
 */
export function tokenPairResponse(pair: TokenPair): Response {
  const body: TokenPairBody = {
    access_token: pair.accessToken,
    refresh_token: pair.refreshToken,
    token_type: "Bearer",
    expires_in: pair.expiresIn,
    refresh_expires_in: pair.refreshExpiresIn,
  };
  return jsonResponse(body, {
    headers: { "cache-control": "no-store", pragma: "no-cache" },
  });
}
