/**
 * The request boundary: routing, authentication from the route table,
 * request ids, common headers, the turning of errors into answers, and one
 * log line per request.
 *
 * @module
 */
import type { ApiRoute, RequestContext } from "./api_route.ts";
import { toHttpError } from "./api_route.ts";
import { bearerToken } from "./bearer.ts";
import { applyCors } from "./cors.ts";
import { HttpError, OAuthError } from "./http_error.ts";
import type { Logger } from "./log.ts";
import { jsonResponse, problemResponse } from "./problem.ts";
import { createRouter, type RouteHandler } from "./router.ts";
import type { Sessions } from "./sessions.ts";

/** What the server knows of a connection, as `Deno.serve` passes it. */
export interface ConnectionInfo {
  remoteAddr?: { hostname?: string } | Deno.Addr;
}

/** Answers one HTTP request. */
export type Handler = (
  request: Request,
  info?: ConnectionInfo,
) => Promise<Response>;

/** Options for {@linkcode createApp}. */
export interface AppOptions {
  routes: ApiRoute[];
  sessions: Sessions;
  logger: Logger;
  /** Origins allowed to call from a browser; none by default. */
  allowedOrigins?: ReadonlySet<string>;
}

// A client's own request id is kept only when it cannot break a log line
// or a header.
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const COMMON_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/**
 * Creates the service's request handler from its route table.
 *
 * @example Usage
 * ```ts
 * const handle = createApp({ routes, sessions, logger });
 * const response = await handle(new Request("http://localhost/notsecret"));
 * ```
 */
export function createApp(options: AppOptions): Handler {
  const { logger, sessions } = options;
  const allowedOrigins = options.allowedOrigins ?? new Set<string>();
  const route = createRouter<RequestContext>(
    options.routes.map((entry) => ({
      ...entry,
      handler: guard(entry, sessions),
    })),
  );

  return async (request, info) => {
    const started = performance.now();
    const given = request.headers.get("x-request-id") ?? "";
    const requestId = SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
    const context: RequestContext = {
      requestId,
      // Asking the server for the peer's address costs a call into the
      // runtime; only login needs it.
      get clientAddress() {
        return addressOf(info);
      },
    };
    let response: Response;
    try {
      response = await route(request, context);
    } catch (error) {
      response = errorResponse(error, requestId, logger);
    }
    finish(response.headers, requestId);
    applyCors(request, response, allowedOrigins);
    logger.info("request", {
      request_id: requestId,
      method: request.method,
      path: pathnameOf(request.url),
      status: response.status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      ...(context.claims ? { user: context.claims.sub } : {}),
    });
    return response;
  };
}

// The path alone, never the query: a query may carry a token or a
// password that must not reach the log.
function pathnameOf(url: string): string {
  return new URL(url).pathname;
}

function addressOf(info: ConnectionInfo | undefined): string | undefined {
  const addr = info?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : undefined;
}

function guard(
  entry: ApiRoute,
  sessions: Sessions,
): RouteHandler<RequestContext> {
  if (entry.auth === "none") return entry.handler;
  const liveSession = entry.auth === "session";
  return async (request, context, params) => {
    const token = bearerToken(request);
    try {
      context.claims = await sessions.authenticate(token, { liveSession });
    } catch (error) {
      throw toHttpError(error);
    }
    return await entry.handler(request, context, params);
  };
}

function finish(headers: Headers, requestId: string): void {
  for (const [name, value] of Object.entries(COMMON_HEADERS)) {
    headers.set(name, value);
  }
  // Answers carry accounts and tokens; nothing in between may keep them.
  if (!headers.has("cache-control")) headers.set("cache-control", "no-store");
  headers.set("x-request-id", requestId);
}

function errorResponse(
  error: unknown,
  requestId: string,
  logger: Logger,
): Response {
  // A deliberate 5xx, such as a failing store, still hides a fault the
  // operator must see; its cause is what went wrong.
  if (error instanceof HttpError && error.status >= 500) {
    logFailure(logger, requestId, error.cause ?? error);
  }
  if (error instanceof OAuthError) {
    const body = { error: error.error, error_description: error.detail };
    const headers = new Headers(error.headers);
    headers.set("cache-control", "no-store");
    return jsonResponse(body, { status: error.status, headers });
  }
  if (error instanceof HttpError) {
    return problemResponse(error.status, error.detail, {
      headers: error.headers,
      errors: error.errors,
    });
  }
  logFailure(logger, requestId, error);
  return problemResponse(500, "Internal server error", { requestId });
}

function logFailure(logger: Logger, requestId: string, error: unknown): void {
  logger.error("Request failed", {
    request_id: requestId,
    error: error instanceof Error
      ? error.stack ?? error.message
      : String(error),
  });
}
