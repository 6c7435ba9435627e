/**
 * Routes that hand out tokens: signup, login, refresh and the OAuth 2.0
 * token endpoint.
 *
 * @module
 */
import { ACCOUNT, TOKEN_PAIR } from "./answer_schemas.ts";
import type { Accounts } from "./accounts.ts";
import {
  answering,
  type ApiRoute,
  type RequestContext,
  toHttpError,
} from "./api_route.ts";
import { bearerToken } from "./bearer.ts";
import { readJson, readJsonOrForm } from "./body.ts";
import { HttpError, OAuthError } from "./http_error.ts";
import { jsonResponse } from "./problem.ts";
import { LOGIN_BODY, REFRESH_BODY, signupBody, TOKEN_BODY } from "./schemas.ts";
import type { Sessions } from "./sessions.ts";
import { tokenPairResponse } from "./token_response.ts";

/** Options for {@linkcode authRoutes}. */
export interface AuthRoutesOptions {
  accounts: Accounts;
  sessions: Sessions;
  passwordMinLength: number;
}

const BODY_ERRORS = {
  400: "Malformed JSON",
  413: "Body too large",
  415: "Not JSON",
  422: "Invalid fields",
};

const REFRESH_ERRORS = {
  401: "Refresh token expired, invalid or reused",
};

const TOKEN_ANSWER = { 200: { schema: TOKEN_PAIR } };

/** The routes that sign up, log in and refresh. */
export function authRoutes(options: AuthRoutesOptions): ApiRoute[] {
  const { accounts, sessions } = options;
  const signup = signupBody(options.passwordMinLength);

  function refreshWith(token: string): Promise<Response> {
    return answering(async () =>
      tokenPairResponse(await sessions.refresh(token))
    );
  }

  return [{
    method: "POST",
    path: "/signup",
    answers: { 201: { schema: ACCOUNT } },
    auth: "none",
    summary: "Create an account",
    body: signup,
    responses: {
      201: "Account created",
      ...BODY_ERRORS,
      409: "Taken",
      429: "Too many signups from this address",
      503: "Too many passwords being hashed at once",
    },
    handler: async (request, context) => {
      const { username, password } = await readJson(request, signup);
      const address = context.clientAddress;
      const profile = await answering(() =>
        accounts.signUp(username, password, { address })
      );
      return jsonResponse({
        username: profile.username,
        created_at: new Date(profile.createdAt).toISOString(),
      }, { status: 201 });
    },
  }, {
    method: "POST",
    path: "/login",
    answers: TOKEN_ANSWER,
    auth: "none",
    summary: "Log in and receive a token pair",
    body: LOGIN_BODY,
    responses: {
      200: "Token pair",
      ...BODY_ERRORS,
      401: "Invalid username or password",
      429: "Too many failed logins",
      503: "Too many passwords being hashed at once",
    },
    handler: async (request, context) => {
      const { username, password } = await readJson(request, LOGIN_BODY);
      const address = context.clientAddress;
      return await answering(async () =>
        tokenPairResponse(await accounts.logIn(username, password, { address }))
      );
    },
  }, {
    method: "GET",
    path: "/refresh_token",
    answers: TOKEN_ANSWER,
    refreshBearer: true,
    auth: "none",
    // Each call rotates the token; a HEAD would rotate it and lose the pair.
    headless: true,
    summary: "Exchange a refresh token (as Bearer) for a new pair",
    responses: { 200: "Token pair", ...REFRESH_ERRORS },
    handler: (request) => refreshWith(bearerToken(request)),
  }, {
    method: "POST",
    path: "/refresh_token",
    answers: TOKEN_ANSWER,
    auth: "none",
    summary: "Exchange a refresh token (in the body) for a new pair",
    body: REFRESH_BODY,
    responses: { 200: "Token pair", ...BODY_ERRORS, ...REFRESH_ERRORS },
    handler: async (request) => {
      const body = await readJson(request, REFRESH_BODY);
      return await refreshWith(body.refresh_token);
    },
  }, {
    method: "POST",
    path: "/token",
    answers: TOKEN_ANSWER,
    // RFC 6749 section 4.3.2: clients send the form; JSON is accepted too.
    bodyTypes: ["application/x-www-form-urlencoded", "application/json"],
    oauthErrors: true,
    auth: "none",
    summary: "OAuth 2.0 token endpoint (password and refresh_token grants)",
    body: TOKEN_BODY,
    responses: {
      200: "Token pair",
      400: "OAuth 2.0 error: invalid_request, invalid_grant or " +
        "unsupported_grant_type",
      413: "Body too large",
      415: "Neither form-encoded nor JSON",
      429: "Too many failed logins",
      503: "Too many passwords being hashed at once",
    },
    handler: async (request, context) => {
      try {
        return await grant(request, context, { accounts, sessions });
      } catch (error) {
        throw toOAuthError(error);
      }
    },
  }];
}

async function grant(
  request: Request,
  context: RequestContext,
  { accounts, sessions }: { accounts: Accounts; sessions: Sessions },
): Promise<Response> {
  const body = await readJsonOrForm(request, TOKEN_BODY);
  if (body.grant_type === "password") {
    if (!body.username || !body.password) {
      throw new OAuthError("invalid_request", "username and password needed");
    }
    const { username, password } = body;
    const address = context.clientAddress;
    return tokenPairResponse(
      await accounts.logIn(username, password, { address }),
    );
  }
  if (body.grant_type === "refresh_token") {
    if (!body.refresh_token) {
      throw new OAuthError("invalid_request", "refresh_token is needed");
    }
    return tokenPairResponse(await sessions.refresh(body.refresh_token));
  }
  if (!body.grant_type) {
    throw new OAuthError("invalid_request", "grant_type is needed");
  }
  throw new OAuthError(
    "unsupported_grant_type",
    "grant_type must be password or refresh_token",
  );
}

// The body faults that keep their own status here as on every route
// (API.md, "Limits on input"): too large, of another type, too slow. They
// concern the HTTP message, not the grant it carries.
const BODY_STATUSES = new Set([408, 413, 415]);

// RFC 6749 section 5.2: bad credentials and bad refresh tokens are both
// `invalid_grant`; any other malformed request (unreadable, not JSON,
// mistyped fields, repeated parameters) is a 400 `invalid_request`. Every
// error at this endpoint comes in its form, a fault of the service's own
// included, and the fault still reaches the log as its cause.
function toOAuthError(error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  const http = toHttpError(error);
  if (!(http instanceof HttpError)) return serverError(error);
  const { status, headers } = http;
  const detail = oauthDescription(http.detail);
  if (status === 401 || status === 409) {
    return new OAuthError("invalid_grant", detail);
  }
  if (status === 429 || status === 503) {
    return new OAuthError("temporarily_unavailable", detail, {
      status,
      headers,
    });
  }
  if (BODY_STATUSES.has(status)) {
    return new OAuthError("invalid_request", detail, { status, headers });
  }
  if (status >= 500) {
    const cause = http.cause;
    return new OAuthError("server_error", detail, { status, headers, cause });
  }
  return new OAuthError("invalid_request", detail);
}

function serverError(cause: unknown): OAuthError {
  return new OAuthError("server_error", "Internal server error", {
    status: 500,
    cause,
  });
}

// RFC 6749 section 5.2 allows printable ASCII but '"' and '\' in
// `error_description`; a detail may quote what the client sent.
function oauthDescription(detail: string): string {
  return detail.replaceAll('"', "'")
    .replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, "?");
}
