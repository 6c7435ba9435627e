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
import type { LogFields, Logger } from "./log.ts";
import { jsonResponse, problemResponse } from "./problem.ts";
import {
  createRouter,
  type Params,
  requestPath,
  type RouteHandler,
} from "./router.ts";
import type { Sessions } from "./sessions.ts";
import type { AccessClaims } from "./tokens.ts";

/** What the server knows of a connection, as `Deno.serve` passes it. */
export interface ConnectionInfo {
  remoteAddr?: { hostname?: string } | Deno.Addr;
}

/** Answers one HTTP request, at once where no waiting is needed. */
export type Handler = (
  request: Request,
  info?: ConnectionInfo,
) => Response | Promise<Response>;

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

  function complete(
    request: Request,
    response: Response,
    context: Exchange,
  ): Response {
    finish(response.headers, context.requestId);
    applyCors(request, response, allowedOrigins);
    const fields: LogFields = {
      request_id: context.requestId,
      method: request.method,
      // Never the query: it may carry a token or a password.
      path: requestPath(request),
      status: response.status,
      ms: Math.round((performance.now() - context.started) * 10) / 10,
    };
    if (context.claims) fields.user = context.claims.sub;
    logger.info("request", fields);
    return response;
  }

  return (request, info) => {
    const context = new Exchange(request, info);
    // Most answers need no waiting; handing Deno.serve a Response rather
    // than a promise of one spares a round of microtasks per request.
    let answer: Response | Promise<Response>;
    try {
      answer = route(request, context);
    } catch (error) {
      answer = errorResponse(error, context.requestId, logger);
    }
    if (!(answer instanceof Promise)) return complete(request, answer, context);
    return answer
      .then(
        undefined,
        (error) => errorResponse(error, context.requestId, logger),
      )
      .then((response) => complete(request, response, context));
  };
}

/** The context of one request, made without a closure per request. */
class Exchange implements RequestContext {
  readonly started = performance.now();
  readonly requestId: string;
  claims?: AccessClaims;
  readonly #info: ConnectionInfo | undefined;

  constructor(request: Request, info: ConnectionInfo | undefined) {
    const given = request.headers.get("x-request-id") ?? "";
    this.requestId = SANE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
    this.#info = info;
  }

  // Asking the server for the peer's address costs a call into the
  // runtime; only the routes that count failures per address need it.
  get clientAddress(): string | undefined {
    return addressOf(this.#info);
  }
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
  const verified = async (
    token: string,
    request: Request,
    context: RequestContext,
    params: Params,
  ) => {
    try {
      context.claims = await sessions.authenticate(token, { liveSession });
    } catch (error) {
      throw toHttpError(error);
    }
    return await entry.handler(request, context, params);
  };
  return (request, context, params) => {
    const token = bearerToken(request);
    // A client sends the same access token on every call: once verified,
    // it is answered without waiting, where the session need not be read.
    const known = liveSession ? undefined : sessions.recall(token);
    if (!known) return verified(token, request, context, params);
    context.claims = known;
    return entry.handler(request, context, params);
  };
}

function finish(headers: Headers, requestId: string): void {
  for (const name in COMMON_HEADERS) {
    headers.set(name, COMMON_HEADERS[name] as string);
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
  // A deliberate 5xx with a cause, such as a failing store, hides a fault
  // the operator must see. One without, such as the 503 that sheds load
  // when the hashing queue is full, is the service working as meant: its
  // request line tells of it, and a stack per refusal would flood the log
  // just when the service is busiest.
  if (
    error instanceof HttpError && error.status >= 500 &&
    error.cause !== undefined
  ) {
    logFailure(logger, requestId, error.cause);
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
