/**
 * Every key namespace of the store, in one place so that none can collide; the Redis store puts
 * its prefix (`portero:` by default) in front of each. Each builder names one key: no operation
 * spans two (see `KeyValueStore`).
 */
export const storeKeys = {
  /** A login in flight, by the hash of its flow id (`src/flow/flow-store.ts`). */
  flow: (flowStoreId: string) => `flow:${flowStoreId}`,
  /** A session signed out before its token expires (`src/tokens/revocations.ts`). */
  revokedSession: (sid: string) => `revoked:${sid}`,
  /**
   * Every session signed out and not yet expired, one sorted set (one key, so one Cluster slot):
   * what an instance loads when it (re)subscribes to `revocationChannel` (`src/tokens/revocations.ts`).
   */
  revokedSessions: 'revoked-sessions',
  /** The channel on which each sign-out is published to every instance (`src/tokens/revocations.ts`). */
  revocationChannel: 'revocations',
  /**
   * A back-channel logout token already used, by its provider and the SHA-256 of its `jti`, kept as
   * long as the token could be accepted (`src/flow/logout-token.ts`): a replay is refused.
   */
  logoutJti: (provider: string, jtiHash: string) => `logout-jti:${provider}:${jtiHash}`,
  /** The counters of rate limit `name`, one key per client address under it (`src/store/rate-limiter.ts`). */
  rateLimit: (name: string) => `rl:${name}`,
} as const;
