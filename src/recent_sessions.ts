/**
 * Sessions seen alive in the store a moment ago, so that a token check on
 * a busy route need not read the store on every request.
 *
 * @module
 */
import type { Clock } from "./clock.ts";

/** Options for {@linkcode RecentSessions}. */
export interface RecentSessionsOptions {
  clock: Clock;
  /** How long a session seen alive is taken to be alive still. */
  freshForMs: number;
  /** How many sessions to remember; 10 000 by default. */
  capacity?: number;
}

// An ended session is kept as this mark: a check that read the store just
// before the session ended must not bring it back.
const ENDED = -1;

/**
 * Remembers when each session was last seen alive in the store, and which
 * ones this instance saw end.
 *
 * @example Usage
 * ```ts
 * const recent = new RecentSessions({ clock, freshForMs: 1000 });
 * recent.sawAlive("session-1");
 * recent.isFresh("session-1"); // true for the next second
 * ```
 */
export class RecentSessions {
  readonly #options: RecentSessionsOptions;
  readonly #seen = new Map<string, number>();

  constructor(options: RecentSessionsOptions) {
    this.#options = options;
  }

  /** Whether the session was seen alive lately and not seen ending. */
  isFresh(id: string): boolean {
    const at = this.#seen.get(id);
    if (at === undefined || at === ENDED) return false;
    return this.#options.clock.now() - at < this.#options.freshForMs;
  }

  /** Notes that the store held the session just now. */
  sawAlive(id: string): void {
    if (this.#seen.get(id) === ENDED) return;
    this.#keep(id, this.#options.clock.now());
  }

  /** Notes that the session has ended; it is never fresh again. */
  sawEnd(id: string): void {
    this.#keep(id, ENDED);
  }

  #keep(id: string, value: number): void {
    const capacity = this.#options.capacity ?? 10_000;
    if (!this.#seen.has(id) && this.#seen.size >= capacity) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    this.#seen.set(id, value);
  }
}
