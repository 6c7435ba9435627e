/**
 * The failures of the auth core, told apart by a stable code.
 *
 * @module
 */

/** Every reason the auth core refuses a request. */
export type AuthErrorCode =
  | "account_exists"
  | "invalid_credentials"
  | "account_changed"
  | "access_expired"
  | "access_invalid"
  | "refresh_expired"
  | "refresh_invalid"
  | "refresh_reused"
  | "too_many_failures";

/**
 * A refusal by the auth core. Routes map its `code` to an HTTP answer.
 *
 * @example Usage
 * ```ts
 * throw new AuthError("account_exists", `Cannot sign up "alice": taken`);
 * ```
 */
export class AuthError extends Error {
  readonly code: AuthErrorCode;

  constructor(code: AuthErrorCode, message: string) {
    super(message);
    this.name = "AuthError";
    this.code = code;
  }
}
