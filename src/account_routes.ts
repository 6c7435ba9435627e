/**
 * Routes for the account behind an access token: profile, logout,
 * password change and deletion.
 *
 * @module
 */
import { ACCOUNT } from "./answer_schemas.ts";
import type { Accounts } from "./accounts.ts";
import { answering, type ApiRoute, claimsOf } from "./api_route.ts";
import { readJson } from "./body.ts";
import { jsonResponse } from "./problem.ts";
import { DELETE_ACCOUNT_BODY, passwordChangeBody } from "./schemas.ts";
import type { Sessions } from "./sessions.ts";

/** Options for {@linkcode accountRoutes}. */
export interface AccountRoutesOptions {
  accounts: Accounts;
  sessions: Sessions;
  passwordMinLength: number;
}

const UNAUTHORIZED = { 401: "Not authenticated, or token expired or invalid" };

// The password these routes ask for again is checked under login's
// throttle.
const THROTTLED = { 429: "Too many failed password checks" };

const BODY_ERRORS = {
  400: "Malformed JSON",
  413: "Body too large",
  415: "Not JSON",
  422: "Invalid fields",
};

/** The routes that act on the caller's own account. */
export function accountRoutes(options: AccountRoutesOptions): ApiRoute[] {
  const { accounts, sessions } = options;
  const passwordChange = passwordChangeBody(options.passwordMinLength);

  return [{
    method: "GET",
    path: "/me",
    answers: { 200: { schema: ACCOUNT } },
    auth: "session",
    summary: "The caller's account",
    responses: { 200: "Account", ...UNAUTHORIZED },
    handler: async (_request, context) => {
      const profile = await answering(() =>
        accounts.profile(claimsOf(context))
      );
      return jsonResponse({
        username: profile.username,
        created_at: new Date(profile.createdAt).toISOString(),
      });
    },
  }, {
    method: "POST",
    path: "/logout",
    auth: "session",
    summary: "End the caller's session",
    responses: { 204: "Logged out", ...UNAUTHORIZED },
    handler: async (_request, context) => {
      await sessions.end(claimsOf(context));
      return new Response(null, { status: 204 });
    },
  }, {
    method: "POST",
    path: "/password",
    auth: "session",
    summary: "Change the password; every other session ends",
    body: passwordChange,
    responses: {
      204: "Changed",
      ...BODY_ERRORS,
      ...UNAUTHORIZED,
      409: "Account changed meanwhile",
      ...THROTTLED,
      503: "Too many passwords being hashed at once",
    },
    handler: async (request, context) => {
      const body = await readJson(request, passwordChange);
      const address = context.clientAddress;
      await answering(() =>
        accounts.changePassword(claimsOf(context), {
          current: body.current_password,
          next: body.new_password,
        }, { address })
      );
      return new Response(null, { status: 204 });
    },
  }, {
    method: "DELETE",
    path: "/me",
    auth: "session",
    summary: "Delete the account and all its sessions",
    body: DELETE_ACCOUNT_BODY,
    responses: {
      204: "Deleted",
      ...BODY_ERRORS,
      ...UNAUTHORIZED,
      409: "Account changed meanwhile",
      ...THROTTLED,
      503: "Too many passwords being hashed at once",
    },
    handler: async (request, context) => {
      const { password } = await readJson(request, DELETE_ACCOUNT_BODY);
      const address = context.clientAddress;
      await answering(() =>
        accounts.deleteAccount(claimsOf(context), password, { address })
      );
      return new Response(null, { status: 204 });
    },
  }];
}
