import type { RateLimitRule } from '../config/types.js';
import type { Metrics, StoreOperationMetrics } from '../metrics.js';
import type { KeyValueStore, RateLimiter } from './types.js';

/** The operations counted, as `portero_store_*{operation}` names them: the methods of the store, snake_cased. */
const OPERATIONS = [
  'get',
  'set',
  'set_if_absent',
  'set_if_present',
  'get_and_delete',
  'delete',
  'delete_if_value',
  'expire_if_value',
  'add_member',
  'remove_member',
  'members',
  'publish',
  'subscribe',
  'rate_limit',
  'ping',
] as const;
type Operation = (typeof OPERATIONS)[number];

/**
 * A store that times every operation of `store` and counts its failures (any rejection: the
 * backend unreachable, the eviction guard refusing) in `metrics`, and otherwise is `store`: the
 * same answers, the same errors. One decorator for both implementations, made in `createApp`.
 */
export class InstrumentedStore implements KeyValueStore {
  readonly #store: KeyValueStore;
  readonly #series: Readonly<Record<Operation, StoreOperationMetrics>>;

  constructor(store: KeyValueStore, metrics: Metrics) {
    this.#store = store;
    this.#series = Object.fromEntries(OPERATIONS.map((operation) => [operation, metrics.storeOperation(operation)])) as Record<
      Operation,
      StoreOperationMetrics
    >;
  }

  async #timed<T>(operation: Operation, run: () => Promise<T>): Promise<T> {
    const series = this.#series[operation];
    const started = performance.now();
    try {
      return await run();
    } catch (err) {
      series.failed();
      throw err;
    } finally {
      series.observe((performance.now() - started) / 1000);
    }
  }

  get(key: string) {
    return this.#timed('get', () => this.#store.get(key));
  }
  set(key: string, value: string, ttlSeconds: number) {
    return this.#timed('set', () => this.#store.set(key, value, ttlSeconds));
  }
  setIfAbsent(key: string, value: string, ttlSeconds: number) {
    return this.#timed('set_if_absent', () => this.#store.setIfAbsent(key, value, ttlSeconds));
  }
  setIfPresent(key: string, value: string, ttlSeconds: number) {
    return this.#timed('set_if_present', () => this.#store.setIfPresent(key, value, ttlSeconds));
  }
  getAndDelete(key: string) {
    return this.#timed('get_and_delete', () => this.#store.getAndDelete(key));
  }
  delete(key: string) {
    return this.#timed('delete', () => this.#store.delete(key));
  }
  deleteIfValue(key: string, value: string) {
    return this.#timed('delete_if_value', () => this.#store.deleteIfValue(key, value));
  }
  expireIfValue(key: string, value: string, ttlSeconds: number) {
    return this.#timed('expire_if_value', () => this.#store.expireIfValue(key, value, ttlSeconds));
  }
  addMember(key: string, member: string, ttlSeconds: number) {
    return this.#timed('add_member', () => this.#store.addMember(key, member, ttlSeconds));
  }
  removeMember(key: string, member: string) {
    return this.#timed('remove_member', () => this.#store.removeMember(key, member));
  }
  members(key: string) {
    return this.#timed('members', () => this.#store.members(key));
  }
  publish(channel: string, message: string) {
    return this.#timed('publish', () => this.#store.publish(channel, message));
  }
  subscribe(channel: string, onMessage: (message: string) => void, onLive?: (live: boolean) => void) {
    return this.#timed('subscribe', () => this.#store.subscribe(channel, onMessage, onLive));
  }
  rateLimiter(name: string, rule: RateLimitRule): RateLimiter {
    const limiter = this.#store.rateLimiter(name, rule);
    return { consume: (key) => this.#timed('rate_limit', () => limiter.consume(key)) };
  }
  ping() {
    return this.#timed('ping', () => this.#store.ping());
  }
  close() {
    return this.#store.close();
  }
}
