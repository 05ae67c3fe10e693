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
  /** A signed-in session: who, since when, its upstream ids (`src/tokens/session-store.ts`). */
  session: (sid: string) => `session:${sid}`,
  /**
   * What the provider granted a session (its refresh token, sealed; its latest ID token), written
   * only under `sessionLock`, apart from the session so that renewals never overwrite a refresh token.
   */
  sessionGrant: (sid: string) => `session-grant:${sid}`,
  /** Held by the one instance refreshing a session at its provider; expires, so a crash cannot keep it. */
  sessionLock: (sid: string) => `session-lock:${sid}`,
  /** A user's sessions, by portero's `sub`, each member `<created ms>.<sid>` (oldest first when sorted). */
  userSessions: (sub: string) => `user-sessions:${sub}`,
  /** portero's sessions begun in one session of the provider's, by its `sid` (back-channel logout names it). */
  upstreamSessions: (provider: string, upstreamSid: string) => `upstream-sessions:${provider}:${upstreamSid}`,
  /**
   * A back-channel logout token already used, by its provider and the SHA-256 of its `jti`, kept as
   * long as the token could be accepted (`src/flow/logout-token.ts`): a replay is refused.
   */
  logoutJti: (provider: string, jtiHash: string) => `logout-jti:${provider}:${jtiHash}`,
  /** The counters of rate limit `name`, one key per client address under it (`src/store/rate-limiter.ts`). */
  rateLimit: (name: string) => `rl:${name}`,
} as const;
