/**
 * The rules for usernames.
 *
 * @module
 */

/** The longest username accepted, in characters after normalisation. */
export const MAX_USERNAME_LENGTH = 64;

const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{White_Space}]/u;

/**
 * The form a username is shown in: NFKC, so look-alike compatibility
 * characters (full-width letters, ligatures) collapse into one spelling.
 */
export function normalizeUsername(username: string): string {
  return username.normalize("NFKC");
}

/**
 * The key a username is stored and looked up under: case does not tell
 * two accounts apart.
 *
 * @example Usage
 * ```ts
 * usernameKey("Alice"); // "alice"
 * ```
 */
export function usernameKey(username: string): string {
  // Upper case first: lower-casing alone keeps "ς" and "σ" (both lower
  // forms of "Σ") and "ß" and "ss" apart, so "ΟΔΟΣ" and "οδοσ" would be
  // two accounts.
  return normalizeUsername(username).toUpperCase().toLowerCase()
    .normalize("NFKC");
}

/**
 * Why a username cannot be used, or `undefined` if it can.
 */
export function usernameProblem(username: string): string | undefined {
  const normalized = normalizeUsername(username);
  const length = [...normalized].length;
  if (length < 1) return "must not be empty";
  if (length > MAX_USERNAME_LENGTH) {
    return `must be at most ${MAX_USERNAME_LENGTH} characters`;
  }
  if (FORBIDDEN.test(normalized)) {
    return "must not contain white space or control characters";
  }
  return undefined;
}
