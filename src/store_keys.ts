/**
 * The keys of the store's records, one function per kind of record, and
 * the check that keeps any text in a key within what Deno KV can hold.
 *
 * @module
 */
import type { FailureScope } from "./store_records.ts";

/**
 * The most bytes of UTF-8 that the text in a key may take. Deno KV throws
 * for a key over 2048 bytes in all; the longest key here holds one such
 * text beside a prefix and a UUID, well within that. The longest username
 * makes a text of 320 bytes (64 characters that case mapping turns into
 * two each, of 3 and 2 bytes).
 */
export const MAX_KEY_TEXT_BYTES = 1024;

/** Why a text cannot be part of a key: `key_too_large` or `key_ill_formed`. */
export type StoreKeyErrorCode = "key_too_large" | "key_ill_formed";

/**
 * A key that Deno KV could not keep as it was given, refused before KV is
 * asked. The store's callers make sure no request can cause one; it is a
 * fault of theirs, never an answer to a client.
 */
export class StoreKeyError extends Error {
  readonly code: StoreKeyErrorCode;

  constructor(code: StoreKeyErrorCode, message: string) {
    super(message);
    this.name = "StoreKeyError";
    this.code = code;
  }
}

const UTF8 = new TextEncoder();

// A lone surrogate would be stored as U+FFFD, which is another text's
// key: "a\ud800" and "a\ufffd" would share one record.
function keyText(text: string): string {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8: a short text need
  // not be encoded to be measured.
  const maybeLong = text.length * 3 > MAX_KEY_TEXT_BYTES;
  if (maybeLong && UTF8.encode(text).length > MAX_KEY_TEXT_BYTES) {
    throw new StoreKeyError(
      "key_too_large",
      `Cannot make a store key: its text is over ${MAX_KEY_TEXT_BYTES} bytes of UTF-8`,
    );
  }
  if (!text.isWellFormed()) {
    throw new StoreKeyError(
      "key_ill_formed",
      "Cannot make a store key: its text has a lone surrogate",
    );
  }
  return text;
}

export function userKey(key: string): Deno.KvKey {
  return ["users", keyText(key)];
}

export function sessionKey(id: string): Deno.KvKey {
  return ["sessions", keyText(id)];
}

export function userSessionsPrefix(key: string): Deno.KvKey {
  return ["sessions_by_user", keyText(key)];
}

export function userSessionKey(key: string, id: string): Deno.KvKey {
  return [...userSessionsPrefix(key), keyText(id)];
}

export function failureKey(scope: FailureScope, key: string): Deno.KvKey {
  return ["login_failures", scope, keyText(key)];
}

export function signupKey(address: string): Deno.KvKey {
  return ["signups_by_address", keyText(address)];
}

export function settingKey(name: string): Deno.KvKey {
  return ["settings", keyText(name)];
}
