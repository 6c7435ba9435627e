/**
 * What every route of the service shares: its table entry, the context it
 * runs in, and the mapping of auth failures to HTTP answers.
 *
 * @module
 */
import type { z } from "zod";
import { AuthError, type AuthErrorCode } from "./auth_error.ts";
import { HashQueueFullError } from "./hash_pool.ts";
import { HttpError, unauthorized } from "./http_error.ts";
import { ThrottledError } from "./login_throttle.ts";
import { SignupLimitError } from "./signup_limit.ts";
import type { Route } from "./router.ts";
import type { AccessClaims } from "./tokens.ts";

/** What a route needs from the caller before it runs. */
export type RouteAuth =
  /** Nothing. */
  | "none"
  /** A valid access token. */
  | "access"
  /** A valid access token whose session has not ended. */
  | "session";

/** Per-request state handed to every handler. */
export interface RequestContext {
  requestId: string;
  /** The client's IP address, when the server knows it. */
  readonly clientAddress?: string | undefined;
  /** The claims of the access token, on routes that require one. */
  claims?: AccessClaims;
}

/** A body a route answers with, as the API document shows it. */
export interface AnswerBody {
  schema: z.ZodType;
  /** The media types it comes in; `application/json` when not given. */
  mediaTypes?: string[];
}

/** One route of the service, with what the API document tells of it. */
export interface ApiRoute extends Route<RequestContext> {
  auth: RouteAuth;
  summary: string;
  /** The schema of the JSON body, if the route reads one. */
  body?: z.ZodType;
  /** The media types the body may come in; `application/json` if unset. */
  bodyTypes?: string[];
  /** The parameters of a patterned `path`, such as `/docs/:file`. */
  params?: z.ZodObject;
  /** Every status the route answers with, and what it means. */
  responses: Record<number, string>;
  /** The body of each successful answer but a 204, by status. */
  answers?: Record<number, AnswerBody>;
  /** Errors come in the OAuth 2.0 form, not as problem details. */
  oauthErrors?: boolean;
  /** The handler itself reads a refresh token as its Bearer credentials. */
  refreshBearer?: boolean;
}

/** The claims of the access token a route required. */
export function claimsOf(context: RequestContext): AccessClaims {
  if (!context.claims) throw new Error("Route ran without its access token");
  return context.claims;
}

const ANSWERS: Record<AuthErrorCode, [number, string, boolean]> = {
  account_exists: [409, "Account already exists", false],
  invalid_credentials: [401, "Invalid username or password", false],
  account_changed: [409, "Account changed meanwhile, try again", false],
  access_expired: [401, "Token expired", true],
  access_invalid: [401, "Invalid token", true],
  refresh_expired: [401, "Refresh token expired", true],
  refresh_invalid: [401, "Invalid refresh token", true],
  refresh_reused: [401, "Refresh token reused", true],
  too_many_failures: [429, "Too many failed logins, try again later", false],
};

/**
 * Turns an auth failure into its HTTP answer, with the contract's wording;
 * anything else is passed through.
 */
export function toHttpError(error: unknown): unknown {
  // Every route that checks or sets a password waits for the same queue.
  if (error instanceof HashQueueFullError) {
    const detail = "Too many passwords being hashed, try again shortly";
    return new HttpError(503, detail, { headers: { "retry-after": "1" } });
  }
  if (error instanceof SignupLimitError) {
    return new HttpError(429, "Too many signups, try again later", {
      headers: { "retry-after": String(error.retryAfter) },
    });
  }
  if (!(error instanceof AuthError)) return error;
  const [status, detail, tokenSent] = ANSWERS[error.code];
  if (status === 401) return unauthorized(detail, tokenSent);
  if (error instanceof ThrottledError) {
    const headers = { "retry-after": String(error.retryAfter) };
    return new HttpError(status, detail, { headers });
  }
  return new HttpError(status, detail);
}

/** Calls `fn`, answering auth failures with their HTTP errors. */
export async function answering<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toHttpError(error);
  }
}
