import type { Clock } from '../clock.js';
import type { Store } from './types.js';

interface Entry {
  value: string;
  expiresAt: number;
}

const SWEEP_EVERY = 1000;

/**
 * A store in this process's memory. It cannot be shared, so it serves a single instance only:
 * a login started here and finished on another instance fails (cleanly, as an expired login).
 */
export class MemoryStore implements Store {
  readonly #entries = new Map<string, Entry>();
  readonly #clock: Clock;
  #writes = 0;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.#clock.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #sweep(): void {
    if (++this.#writes % SWEEP_EVERY !== 0) return;
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
  }

  async get(key: string) {
    return this.#live(key)?.value;
  }

  async set(key: string, value: string, ttlSeconds: number) {
    this.#sweep();
    this.#entries.set(key, { value, expiresAt: this.#clock.now() + ttlSeconds * 1000 });
  }

  async getAndDelete(key: string) {
    const entry = this.#live(key);
    this.#entries.delete(key);
    return entry?.value;
  }

  async incr(key: string, ttlSeconds: number) {
    const entry = this.#live(key);
    const count = (entry ? Number(entry.value) : 0) + 1;
    if (entry) entry.value = String(count);
    else await this.set(key, String(count), ttlSeconds);
    return count;
  }

  async ping() {}

  async close() {
    this.#entries.clear();
  }
}
