/**
 * Parsing of the human-friendly durations used in configuration.
 *
 * @module
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const DURATION = /^(\d+)(ms|s|m|h|d)?$/;

/**
 * Parses a duration such as `30m`, `10h`, `10s` or `90` (seconds) into
 * milliseconds.
 *
 * @example Usage
 * ```ts
 * parseDuration("30m"); // 1_800_000
 * ```
 * @returns The duration in milliseconds, or `undefined` if the text is not
 * a duration.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const unit = UNIT_MS[match[2] ?? "s"] ?? 1_000;
  return Number(match[1]) * unit;
}
