/**
 * The request bodies the routes accept, as zod schemas. The same schemas
 * check requests and describe them in the API document.
 *
 * @module
 */
import { z } from "zod";
import { MAX_PASSWORD_BYTES, passwordByteLength } from "./passwords.ts";
import { ILL_FORMED_MESSAGE, usernameProblem } from "./username.ts";

/** A username as signup accepts it. */
export const USERNAME = z.string().superRefine((value, ctx) => {
  const problem = usernameProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * A password that meets the policy, for signup and password change. A lone
 * surrogate is refused: UTF-8 has no bytes for it, so one side or another
 * (an encoder, a client, a future hasher) would turn it into U+FFFD.
 */
export function newPassword(minLength: number) {
  return z.string().superRefine((value, ctx) => {
    if (!value.isWellFormed()) {
      ctx.addIssue({ code: "custom", message: ILL_FORMED_MESSAGE });
    } else if ([...value.normalize("NFKC")].length < minLength) {
      ctx.addIssue({
        code: "custom",
        message: `must be at least ${minLength} characters`,
      });
    } else if (passwordByteLength(value) > MAX_PASSWORD_BYTES) {
      ctx.addIssue({
        code: "custom",
        message: `must be at most ${MAX_PASSWORD_BYTES} bytes of UTF-8`,
      });
    }
  });
}

/**
 * A password as typed at login; policy is not checked there, and text that
 * signup would refuse simply fails to match.
 */
export const PASSWORD = z.string().min(1, "must not be empty");

/** The body of POST /signup. */
export function signupBody(minLength: number) {
  return z.object({ username: USERNAME, password: newPassword(minLength) });
}

/** The body of POST /login. */
export const LOGIN_BODY = z.object({
  username: z.string().min(1, "must not be empty"),
  password: PASSWORD,
});

/** The body of POST /refresh_token. */
export const REFRESH_BODY = z.object({
  refresh_token: z.string().min(1, "must not be empty"),
});

/** The body of POST /password. */
export function passwordChangeBody(minLength: number) {
  return z.object({
    current_password: PASSWORD,
    new_password: newPassword(minLength),
  });
}

/** The body of DELETE /me. */
export const DELETE_ACCOUNT_BODY = z.object({ password: PASSWORD });

/** The body of POST /token, the OAuth 2.0 token endpoint. */
export const TOKEN_BODY = z.object({
  grant_type: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  refresh_token: z.string().optional(),
});
