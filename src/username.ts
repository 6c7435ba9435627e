/**
 * The rules for usernames.
 *
 * @module
 */

/** The longest username accepted, in characters after normalisation. */
export const MAX_USERNAME_LENGTH = 64;

// Besides white space and controls: code points that render as nothing
// (default ignorables such as ZWJ, variation selectors and the Hangul
// fillers), noncharacters, and the blank-looking symbols U+2800 BRAILLE
// PATTERN BLANK and U+1D159 MUSICAL SYMBOL NULL NOTEHEAD, so no two
// accounts look alike and none looks empty.
const FORBIDDEN = new RegExp(
  "[\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{White_Space}" +
    "\\p{Default_Ignorable_Code_Point}\\p{Noncharacter_Code_Point}" +
    "\\u2800\\u{1D159}]",
  "u",
);

// Unassigned code points have no NFKC mapping yet: a later Unicode version
// may give them one and so move the account to another key. Private-use
// characters mean whatever a font says. Both are judged by the Unicode
// version of the runtime's own tables.
const UNSTABLE = /[\p{Cn}\p{Co}]/u;

// A combining mark is drawn on whatever comes before it, so at the start of
// a name it would sit on the text the name is shown after.
const LEADING_MARK = /^\p{M}/u;

/** The message for text with a lone UTF-16 surrogate. */
export const ILL_FORMED_MESSAGE =
  "must be well-formed Unicode (no lone surrogates)";

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
  // A lone surrogate becomes U+FFFD on its way to UTF-8 (the store's keys),
  // so "a\ud800", "a\udfff" and "a\ufffd" would share one account.
  if (!username.isWellFormed()) return ILL_FORMED_MESSAGE;
  const normalized = normalizeUsername(username);
  const length = [...normalized].length;
  if (length < 1) return "must not be empty";
  if (length > MAX_USERNAME_LENGTH) {
    return `must be at most ${MAX_USERNAME_LENGTH} characters`;
  }
  if (FORBIDDEN.test(normalized)) {
    return "must not contain white space, control or invisible characters";
  }
  if (UNSTABLE.test(normalized)) {
    return "must not contain unassigned or private-use characters";
  }
  if (LEADING_MARK.test(normalized)) {
    return "must not start with a combining mark";
  }
  return undefined;
}
