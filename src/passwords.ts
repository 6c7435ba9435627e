/**
 * Password hashing with bcrypt. The only module that imports `bcryptjs`.
 *
 * @module
 */
import bcrypt from "bcryptjs";

/** Hashes and checks passwords. */
export interface PasswordHasher {
  /** Hashes a password at the configured cost. */
  hash(password: string): Promise<string>;
  /** Answers whether a password matches a stored hash. */
  verify(password: string, hash: string): Promise<boolean>;
}

/** bcrypt reads no further than this many bytes of a password. */
export const MAX_PASSWORD_BYTES = 72;

const encoder = new TextEncoder();

const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * The form a password is hashed in: NFKC, so the same password typed on
 * keyboards that compose characters differently still matches (NIST SP
 * 800-63B section 5.1.1.2).
 */
export function normalizePassword(password: string): string {
  return password.normalize("NFKC");
}

/** The length of a normalised password in bytes of UTF-8. */
export function passwordByteLength(password: string): number {
  return encoder.encode(normalizePassword(password)).length;
}

/**
 * The cost a bcrypt hash was made with.
 *
 * @throws {Error} if the text is not a bcrypt hash.
 */
export function hashCost(hash: string): number {
  // bcryptjs parses whatever sits between the `$` signs, giving NaN or a
  // number for text that is no hash at all.
  if (!BCRYPT_HASH.test(hash)) {
    throw new Error("Cannot read the cost: not a bcrypt hash");
  }
  return bcrypt.getRounds(hash);
}

/** Options for {@linkcode createPasswordHasher}. */
export interface PasswordHasherOptions {
  /** The bcrypt cost for new hashes. */
  cost: number;
}

/**
 * Creates a hasher that runs bcrypt on the calling thread.
 *
 * @example Usage
 * ```ts
 * const hasher = createPasswordHasher({ cost: 12 });
 * const hash = await hasher.hash("correct horse");
 * await hasher.verify("correct horse", hash); // true
 * ```
 */
export function createPasswordHasher(
  options: PasswordHasherOptions,
): PasswordHasher {
  return {
    hash: (password) => bcrypt.hash(normalizePassword(password), options.cost),
    verify: (password, hash) =>
      bcrypt.compare(normalizePassword(password), hash),
  };
}
