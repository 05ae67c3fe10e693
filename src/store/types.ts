/**
 * The little that portero keeps between requests: login flows, revoked sessions, counters.
 * Two implementations, Redis (shared by every instance) and memory (one instance, development),
 * both pass the same contract suite (`test/store/contract.ts`).
 *
 * Every method rejects with `PorteroError('store_unavailable')` when the backend cannot answer,
 * so "not found" (undefined) and "store down" never look alike.
 */
export interface Store {
  /** The value, or undefined when absent or expired. */
  get(key: string): Promise<string | undefined>;
  /** Stores `value` under `key`, replacing any, for `ttlSeconds`. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Reads and removes in one atomic step: of two concurrent callers, one gets the value. */
  getAndDelete(key: string): Promise<string | undefined>;
  /** Adds one and returns the new count; the TTL starts at the first increment of a window. */
  incr(key: string, ttlSeconds: number): Promise<number>;
  /** Resolves when the backend answers; for readiness probes. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Key namespaces, so one Redis can be shared with other applications. */
export const storeKeys = {
  flow: (id: string) => `flow:${id}`,
  revokedSession: (sid: string) => `revoked:${sid}`,
} as const;
