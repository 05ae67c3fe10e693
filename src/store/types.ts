import type { RateLimitRule } from '../config/types.js';

/** The answer of a {@link RateLimiter}: go ahead, or wait this many seconds. */
export type RateLimitDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterSeconds: number };

/** Counts requests per key (a client address) over a fixed window; see `KeyValueStore.rateLimiter`. */
export interface RateLimiter {
  /** Counts one request for `key`. Rejects with `store_unavailable` when the count cannot be kept. */
  consume(key: string): Promise<RateLimitDecision>;
}

/**
 * The small key-value primitive everything portero keeps between requests is built on: login
 * flows, revoked sessions, and later sessions, locks and limits (the domain stores, each in the
 * folder of its domain, say what their keys and values mean). Two implementations, Redis (shared
 * by every instance) and memory (one instance, development), pass one contract suite
 * (`test/store/contract.ts`).
 *
 * Every operation touches exactly one key, so each works on a Redis Cluster; a domain that ever
 * needs several keys in one operation puts their shared part in a hash tag (`{user:42}:sessions`).
 *
 * Every method rejects with `PorteroError('store_unavailable')` when the backend cannot answer,
 * so "not found" (undefined, false) and "store down" never look alike.
 */
export interface KeyValueStore {
  /** The value, or undefined when absent or expired. */
  get(key: string): Promise<string | undefined>;
  /** Stores `value` under `key`, replacing any, for `ttlSeconds`. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Stores `value` only when `key` holds nothing: true when it did (a lock obtained), false when the key was taken. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Replaces the value only while `key` holds one (Redis `SET XX`), for `ttlSeconds`: true when it
   * did, false when the key was absent (deleted, or expired), which it then leaves absent. A record
   * that another instance may delete meanwhile is updated so, never written back once deleted.
   */
  setIfPresent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Reads and removes in one atomic step: of two concurrent callers, one gets the value. */
  getAndDelete(key: string): Promise<string | undefined>;
  /** Removes the key; true when there was one. */
  delete(key: string): Promise<boolean>;
  /** Removes the key only while it holds `value` (a lock released by its owner only); true when removed. */
  deleteIfValue(key: string, value: string): Promise<boolean>;
  /** Gives the key a new TTL only while it holds `value` (a lock extended by its owner only); true when extended. */
  expireIfValue(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /**
   * Adds `member` to the small set at `key` (a user's sessions, the revoked ids to load at start),
   * where it lives `ttlSeconds`; adding it again renews it. The key lives as long as its longest-lived member.
   */
  addMember(key: string, member: string, ttlSeconds: number): Promise<void>;
  /** Removes `member` from the set; true when it was there. */
  removeMember(key: string, member: string): Promise<boolean>;
  /** The set's members that have not expired, in no particular order. */
  members(key: string): Promise<string[]>;
  /** Sends `message` to every subscriber of `channel`, on every instance sharing the store. */
  publish(channel: string, message: string): Promise<void>;
  /**
   * Calls `onMessage` for every message published on `channel` from now on, until the returned
   * function is called. Messages published while the store was unreachable are lost: a subscriber
   * that must not miss one also reads what it needs from the store, and passes `onLive`, which is
   * called with `false` as soon as the subscription may be missing messages (its connection lost,
   * or not answering) and with `true` once it is subscribed again, when a read of the store
   * catches up on what was missed. The subscription is live when the returned promise resolves.
   * Rejects once the store is closed.
   */
  subscribe(channel: string, onMessage: (message: string) => void, onLive?: (live: boolean) => void): Promise<() => Promise<void>>;
  /**
   * A limiter named `name` (its keys live under `storeKeys.rateLimit(name)`) allowing `rule.points`
   * requests per `rule.duration` seconds for each key, counted in this store: on Redis, by every
   * instance together. Made by rate-limiter-flexible, atomic on one key, so it works on a Cluster.
   */
  rateLimiter(name: string, rule: RateLimitRule): RateLimiter;
  /** Resolves when the backend answers; for readiness probes. */
  ping(): Promise<void>;
  /** Releases what this store itself holds (subscriptions); the connection is closed by whoever made it. */
  close(): Promise<void>;
}
