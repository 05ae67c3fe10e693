import type { Clock } from '../clock.js';
import type { RateLimitRule } from '../config/types.js';
import { storeKeys } from './keys.js';
import { memoryRateLimiter } from './rate-limiter.js';
import type { KeyValueStore, RateLimiter } from './types.js';

interface Entry {
  value: string;
  expiresAt: number;
}

const SWEEP_EVERY = 1000;

/**
 * A store in this process's memory. It cannot be shared, so it serves a single instance only:
 * a login started here and finished on another instance fails (cleanly, as an expired login).
 */
export class MemoryStore implements KeyValueStore {
  readonly #entries = new Map<string, Entry>();
  /** Sets: member → expiry (ms), per key. */
  readonly #sets = new Map<string, Map<string, number>>();
  readonly #channels = new Map<string, Set<(message: string) => void>>();
  readonly #clock: Clock;
  /** One limiter per name, so that two apps on one memory store count together, as on Redis. */
  readonly #limiters = new Map<string, RateLimiter>();
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

  /** Now and then, forget what expired unread, so that memory does not grow with abandoned logins. */
  #sweep(): void {
    if (++this.#writes % SWEEP_EVERY !== 0) return;
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(key);
    for (const key of this.#sets.keys()) this.#liveSet(key);
  }

  #expiry(ttlSeconds: number): number {
    return this.#clock.now() + ttlSeconds * 1000;
  }

  async get(key: string) {
    return this.#live(key)?.value;
  }

  async set(key: string, value: string, ttlSeconds: number) {
    this.#sweep();
    this.#entries.set(key, { value, expiresAt: this.#expiry(ttlSeconds) });
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number) {
    if (this.#live(key)) return false;
    await this.set(key, value, ttlSeconds);
    return true;
  }

  async setIfPresent(key: string, value: string, ttlSeconds: number) {
    if (!this.#live(key)) return false;
    await this.set(key, value, ttlSeconds);
    return true;
  }

  async getAndDelete(key: string) {
    const entry = this.#live(key);
    this.#entries.delete(key);
    return entry?.value;
  }

  async delete(key: string) {
    const existed = this.#live(key) !== undefined;
    this.#entries.delete(key);
    return existed;
  }

  async deleteIfValue(key: string, value: string) {
    if (this.#live(key)?.value !== value) return false;
    this.#entries.delete(key);
    return true;
  }

  async expireIfValue(key: string, value: string, ttlSeconds: number) {
    const entry = this.#live(key);
    if (entry?.value !== value) return false;
    entry.expiresAt = this.#expiry(ttlSeconds);
    return true;
  }

  /** The set at `key` without its expired members; deleted when none is left. */
  #liveSet(key: string): Map<string, number> | undefined {
    const set = this.#sets.get(key);
    if (!set) return undefined;
    const now = this.#clock.now();
    for (const [member, expiresAt] of set) if (expiresAt <= now) set.delete(member);
    if (set.size > 0) return set;
    this.#sets.delete(key);
    return undefined;
  }

  async addMember(key: string, member: string, ttlSeconds: number) {
    this.#sweep();
    const set = this.#liveSet(key) ?? new Map<string, number>();
    set.set(member, this.#expiry(ttlSeconds));
    this.#sets.set(key, set);
  }

  async removeMember(key: string, member: string) {
    const set = this.#liveSet(key);
    const removed = set?.delete(member) ?? false;
    if (set?.size === 0) this.#sets.delete(key);
    return removed;
  }

  async members(key: string) {
    return [...(this.#liveSet(key)?.keys() ?? [])];
  }

  async publish(channel: string, message: string) {
    // Delivered after publish returns, as over a network: a subscriber never runs inside the publisher.
    for (const handler of this.#channels.get(channel) ?? []) queueMicrotask(() => handler(message));
  }

  async subscribe(channel: string, onMessage: (message: string) => void) {
    // Its own function per subscription, so that subscribing one handler twice gives two subscriptions.
    const handler = (message: string) => onMessage(message);
    const handlers = this.#channels.get(channel) ?? new Set();
    handlers.add(handler);
    this.#channels.set(channel, handlers);
    return async () => {
      handlers.delete(handler);
      if (handlers.size === 0) this.#channels.delete(channel);
    };
  }

  rateLimiter(name: string, rule: RateLimitRule): RateLimiter {
    const id = `${name} ${rule.points}/${rule.duration}`;
    let limiter = this.#limiters.get(id);
    if (!limiter) {
      limiter = memoryRateLimiter(storeKeys.rateLimit(name), name, rule);
      this.#limiters.set(id, limiter);
    }
    return limiter;
  }

  async ping() {}

  async close() {
    this.#entries.clear();
    this.#sets.clear();
    this.#channels.clear();
  }
}
