/**
 * Reading a Bearer token from the `Authorization` header (RFC 6750
 * section 2.1).
 *
 * @module
 */
import { unauthorized } from "./http_error.ts";

// The b64token syntax of RFC 6750 section 2.1.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The Bearer token of a request.
 *
 * @throws {HttpError} 401 `Not authenticated` when no Bearer credentials
 * came, 401 `Invalid token` when they are malformed.
 */
export function bearerToken(request: Request): string {
  const header = request.headers.get("authorization");
  if (!header) throw unauthorized("Not authenticated", false);
  const [scheme, token, ...rest] = header.trim().split(/\s+/);
  if (scheme?.toLowerCase() !== "bearer") {
    throw unauthorized("Not authenticated", false);
  }
  if (!token || rest.length > 0 || !B64TOKEN.test(token)) {
    throw unauthorized("Invalid token", true);
  }
  return token;
}
