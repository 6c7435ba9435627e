/**
 * The one line a failed start is told in: what went wrong and what to
 * change, not a stack trace.
 *
 * @module
 */
import { ConfigError } from "./config.ts";

const GRANTABLE = `grant it in deno.json's "permissions" or with that flag`;

// `deno compile` bakes the permission flags into the executable, which
// reads neither deno.json nor flags when it runs.
const BUILT_IN = "the executable's permissions were fixed when it was " +
  "built: keep PORT, HOSTNAME and KV_PATH within them, or add that flag " +
  'to the "compile" task in deno.json and build it again';

/** Options for {@linkcode startFailure}. */
export interface StartFailureOptions {
  /**
   * The service runs as an executable made by `deno compile`
   * (`Deno.build.standalone`), whose permissions were fixed when it was
   * built.
   */
  standalone: boolean;
}

/**
 * The message for an error that stopped the start.
 *
 * @example Usage
 * ```ts
 * startFailure(new Deno.errors.AddrInUse("in use"), { standalone: false });
 * // "Cannot listen: the address is in use; set PORT or HOSTNAME"
 * ```
 */
export function startFailure(
  error: unknown,
  options: StartFailureOptions,
): string {
  if (error instanceof ConfigError) return error.message;
  if (error instanceof Deno.errors.AddrInUse) {
    return "Cannot listen: the address is in use; set PORT or HOSTNAME";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return "Cannot listen: HOSTNAME is not an address of this machine";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `Cannot start: a permission is missing: ${error.message}; ` +
      (options.standalone ? BUILT_IN : GRANTABLE);
  }
  const message = error instanceof Error ? error.message : String(error);
  return `Cannot start: ${message}`;
}
