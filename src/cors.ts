/**
 * Cross-origin access for browser apps on other origins (the Fetch
 * standard's CORS protocol). Off unless origins are configured.
 *
 * @module
 */

const ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-Id";
const EXPOSED_HEADERS = "Retry-After, WWW-Authenticate, X-Request-Id";
const PREFLIGHT_MAX_AGE = "600";

/**
 * Adds the CORS headers a response needs for a request from an allowed
 * origin, and answers a preflight. Tokens travel in the `Authorization`
 * header, never in cookies, so credentials are not allowed.
 *
 * @example Usage
 * ```ts
 * applyCors(request, response, new Set(["https://app.example"]));
 * ```
 */
export function applyCors(
  request: Request,
  response: Response,
  allowedOrigins: ReadonlySet<string>,
): void {
  if (allowedOrigins.size === 0) return;
  const headers = response.headers;
  headers.append("vary", "Origin");
  const origin = request.headers.get("origin");
  if (!origin || !allowedOrigins.has(origin)) return;
  headers.set("access-control-allow-origin", origin);
  const preflight = request.method === "OPTIONS" &&
    request.headers.has("access-control-request-method");
  if (!preflight) {
    headers.set("access-control-expose-headers", EXPOSED_HEADERS);
    return;
  }
  const allow = headers.get("allow");
  if (allow) headers.set("access-control-allow-methods", allow);
  headers.set("access-control-allow-headers", ALLOWED_HEADERS);
  headers.set("access-control-max-age", PREFLIGHT_MAX_AGE);
}
