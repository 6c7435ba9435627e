/**
 * The source of the current time for everything that expires: tokens,
 * sessions, throttling windows. Injected so tests can move time forward
 * instead of sleeping.
 *
 * @module
 */

/** Something that tells the current time as epoch milliseconds. */
export interface Clock {
  /** The current time in epoch milliseconds. */
  now(): number;
}

/** The wall clock of the machine. */
export const systemClock: Clock = { now: () => Date.now() };
