/**
 * Assertions on the answers the HTTP contract describes: problem details,
 * 401 challenges, token pairs and OAuth errors. Each checks the status
 * first, then the content type, then the body.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { TokenPairBody } from "./_helpers.ts";

/** The content type of every JSON answer that is not an error. */
export const JSON_TYPE = "application/json; charset=utf-8";

/** The content type of every problem-details answer (RFC 9457). */
export const PROBLEM_TYPE = "application/problem+json";

// Written out here rather than imported, so the tests do not share the
// service's own table.
const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  503: "Service Unavailable",
};

/** One invalid field, as a 422 answer lists it. */
export interface FieldError {
  field: string;
  message: string;
}

/** Asserts a problem-details answer and returns its body. */
export async function assertProblem(
  response: Response,
  status: number,
  detail: string,
  errors?: FieldError[],
): Promise<Record<string, unknown>> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get("content-type"), PROBLEM_TYPE);
  const body = await response.json();
  const expected: Record<string, unknown> = {
    type: "about:blank",
    title: TITLES[status],
    status,
    detail,
  };
  if (errors) expected.errors = errors;
  assert.deepEqual(body, expected);
  return body;
}

/** Asserts a 422 answer naming the invalid fields. */
export async function assertInvalidFields(
  response: Response,
  errors: FieldError[],
): Promise<void> {
  await assertProblem(response, 422, "Request body is invalid", errors);
}

/**
 * Asserts a 401 answer and its Bearer challenge (RFC 6750 section 3):
 * `error="invalid_token"` exactly when a token was sent.
 */
export async function assertUnauthorized(
  response: Response,
  detail: string,
  options: { tokenSent: boolean },
): Promise<void> {
  const challenge = response.headers.get("www-authenticate") ?? "";
  await assertProblem(response, 401, detail);
  assert.match(challenge, /^Bearer\b/);
  if (options.tokenSent) {
    assert.match(challenge, /\berror="invalid_token"/);
  } else {
    assert.doesNotMatch(challenge, /\berror=/);
  }
}

/** Asserts a 401 for a bearer token that was sent and refused. */
export async function assertTokenRefused(
  response: Response,
  detail: string,
): Promise<void> {
  await assertUnauthorized(response, detail, { tokenSent: true });
}

/** Asserts the 401 for a request that carried no bearer token. */
export async function assertNotAuthenticated(
  response: Response,
): Promise<void> {
  await assertUnauthorized(response, "Not authenticated", { tokenSent: false });
}

/**
 * Asserts the 401 for a wrong name or password, which says neither which
 * one was wrong nor asks for a token.
 */
export async function assertLoginRefused(response: Response): Promise<void> {
  await assertUnauthorized(response, "Invalid username or password", {
    tokenSent: false,
  });
}

/** Asserts the 429 of a throttled password check, with its `Retry-After`. */
export async function assertThrottled(
  response: Response,
  retryAfter: string,
): Promise<void> {
  await assertProblem(response, 429, "Too many failed logins, try again later");
  assert.equal(response.headers.get("retry-after"), retryAfter);
}

/**
 * Asserts a token pair answer, sent with `Cache-Control: no-store` (RFC
 * 6749 section 5.1), and returns its body.
 */
export async function assertTokenPair(
  response: Response,
  options: { refreshExpiresIn?: number } = {},
): Promise<TokenPairBody> {
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), JSON_TYPE);
  assert.equal(response.headers.get("cache-control"), "no-store");
  const body: TokenPairBody = await response.json();
  assert.deepEqual(Object.keys(body).sort(), [
    "access_token",
    "expires_in",
    "refresh_expires_in",
    "refresh_token",
    "token_type",
  ]);
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 1800);
  assert.equal(body.refresh_expires_in, options.refreshExpiresIn ?? 36000);
  assert.match(body.access_token, JWT);
  assert.match(body.refresh_token, JWT);
  assert.notEqual(body.access_token, body.refresh_token);
  return body;
}

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;

/**
 * Asserts an OAuth 2.0 error answer (RFC 6749 section 5.2): only `error`
 * and `error_description`, none of the problem-details fields.
 */
export async function assertOAuthError(
  response: Response,
  error: string,
  description: string,
  status = 400,
): Promise<void> {
  assert.equal(response.status, status);
  assert.equal(response.headers.get("content-type"), JSON_TYPE);
  assert.equal(response.headers.get("cache-control"), "no-store");
  const body = await response.json();
  assert.deepEqual(body, { error, error_description: description });
}

/** The claims of a JWT, read without checking its signature. */
export function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  const base64 = payload.replaceAll("-", "+").replaceAll("_", "/");
  return JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")));
}
