import type { Clock } from '../clock.js';

const SWEEP_EVERY = 1000;

/**
 * The sessions this instance knows to be signed out, in its memory: `sid` → until when (ms) it is
 * denied, the token's `exp` plus the clock skew. It only ever denies: a `sid` it does not hold is
 * not thereby valid unless the set is known complete (see `Revocations`).
 *
 * It grows with the sign-outs of one token lifetime (`JWT_TTL`), about 100 bytes each, and drops
 * each when its token has expired.
 */
export class DenySet {
  readonly #entries = new Map<string, number>();
  readonly #clock: Clock;
  #adds = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Denies `sid` until `untilMs`, or longer if it already was. */
  add(sid: string, untilMs: number): void {
    if (untilMs <= this.#clock.now()) return;
    const known = this.#entries.get(sid);
    if (known === undefined || known < untilMs) this.#entries.set(sid, untilMs);
    if (++this.#adds % SWEEP_EVERY === 0) this.#sweep();
  }

  has(sid: string): boolean {
    const until = this.#entries.get(sid);
    if (until === undefined) return false;
    if (until > this.#clock.now()) return true;
    this.#entries.delete(sid);
    return false;
  }

  /** Every session denied now, with until when (ms). */
  *entries(): IterableIterator<[sid: string, untilMs: number]> {
    const now = this.#clock.now();
    for (const entry of this.#entries) if (entry[1] > now) yield entry;
  }

  get size(): number {
    return this.#entries.size;
  }

  #sweep(): void {
    const now = this.#clock.now();
    for (const [sid, until] of this.#entries) if (until <= now) this.#entries.delete(sid);
  }
}
