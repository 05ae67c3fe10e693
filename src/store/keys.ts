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
  /**
   * A record of oidc-provider's (the OpenID Provider's sessions, interactions, grants, codes and
   * tokens; `model` is its model name), JSON, by the SHA-256 of its id (`src/flow/op-adapter.ts`):
   * the id of a code or token is its value, so neither key nor record holds it.
   */
  opRecord: (model: string, idDigest: string) => `op:${model}:${idDigest}`,
  /** Set once, atomically, when the record of the same digest is consumed (a code exchanged, a refresh token rotated). */
  opConsumed: (model: string, idDigest: string) => `op-consumed:${model}:${idDigest}`,
  /** The id of the OpenID Provider's Session whose uid has this SHA-256 (oidc-provider's `findByUid`). */
  opSessionByUid: (uidDigest: string) => `op-session-uid:${uidDigest}`,
  /** The id of the DeviceCode whose user code has this SHA-256 (oidc-provider's `findByUserCode`; the device flow is off). */
  opDeviceCodeByUserCode: (userCodeDigest: string) => `op-user-code:${userCodeDigest}`,
  /**
   * Every code and token issued under the grant whose id has this SHA-256, a set of `<model>:<id digest>`
   * kept as long as its longest-lived member: what oidc-provider's `revokeByGrantId` removes.
   */
  opGrant: (grantIdDigest: string) => `op-grant:${grantIdDigest}`,
  /**
   * The OpenID Provider's session uid(s) of a portero session, by portero's `sid`: what signing out
   * of portero (or at the upstream IdP) ends at the provider, outside any request of its own.
   */
  opSessionsOf: (porteroSid: string) => `op-sessions-of:${porteroSid}`,
  /** The counters of rate limit `name`, one key per client address under it (`src/store/rate-limiter.ts`). */
  rateLimit: (name: string) => `rl:${name}`,
} as const;
