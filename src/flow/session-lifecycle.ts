import type { Clock } from '../clock.js';
import type { SessionConfig } from '../config/types.js';
import { type PorteroClaims, type SessionClaims, sessionClaimsOf } from '../shared/claims.js';
import type { IssuedToken } from '../tokens/issue.js';
import type { SecretSealer } from '../tokens/sealed-secret.js';
import { SESSION_VERSION, type SessionRecord, type SessionStore } from '../tokens/session-store.js';
import type { Sessions } from '../tokens/sessions.js';
import type { FinishedLogin } from './login.js';
import type { ConfiguredProvider } from './provider-client.js';
import { refreshIfDue, sessionEnded } from './session-refresh.js';

/** Why a session ended, as the `session_ended` event and the metrics name it. */
export type SessionEndKind = 'logout' | 'everywhere' | 'backchannel' | 'invalid_grant' | 'capped';

export interface EndedSession {
  readonly sid: string;
  readonly sub: string;
  readonly provider: string;
  readonly kind: SessionEndKind;
}

export interface StartedSession extends IssuedToken {
  /** Seconds until the session's absolute end: the token cookie's Max-Age. */
  readonly sessionLeft: number;
  /** The user's oldest sessions, ended to keep within SESSIONS_PER_USER. */
  readonly ended: readonly EndedSession[];
}

export interface RenewedToken extends IssuedToken {
  /** Seconds until the session's absolute end: the token cookie's Max-Age. */
  readonly sessionLeft: number;
  /** The provider was asked, and confirmed the session. */
  readonly refreshed: boolean;
}

export interface SessionLifecycleDeps {
  readonly store: SessionStore;
  /** Signs, verifies and revokes portero's tokens. */
  readonly tokens: Sessions;
  readonly providers: ReadonlyMap<string, ConfiguredProvider>;
  readonly sealer: SecretSealer;
  readonly config: SessionConfig;
  readonly clock: Clock;
  readonly providerTimeout: number;
  /** JWT_TTL, seconds. */
  readonly tokenTtl: number;
  /** Throws `not_allowed` for a session the access rules, as they are now, would not let sign in. */
  readonly checkAccess: (provider: ConfiguredProvider, claims: SessionClaims) => Promise<void>;
  /** Called once a session has ended (revoked, forgotten): the OpenID Provider ends the apps' sessions of it. */
  readonly afterEnd?: (ended: EndedSession) => Promise<void>;
}

/** Sessions whose last renewal on this instance `/auth` remembers; beyond, the oldest is forgotten. */
const MAX_RECENT_RENEWALS = 10_000;

interface RecentRenewal {
  readonly sub: string;
  readonly renewal: Promise<RenewedToken>;
  /** Until when (ms) its token is handed out again: while it has more than half its life left. */
  reuseUntil: number;
}

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * A session from sign-in to its end: begun by a login, renewed (a new token, and at the provider
 * when due) while it lives, ended by a sign-out, the provider, or the cap on a user's sessions.
 * Ending one revokes its `sid` first, so every instance refuses its tokens even if forgetting the
 * record then fails.
 */
export class SessionLifecycle {
  readonly #deps: SessionLifecycleDeps;
  readonly #recent = new Map<string, RecentRenewal>();

  constructor(deps: SessionLifecycleDeps) {
    this.#deps = deps;
  }

  async begin(finished: FinishedLogin): Promise<StartedSession> {
    const { store, tokens, clock, config, sealer } = this.#deps;
    const now = clock.now();
    const expiresAt = now + config.ttl * 1000;
    const issued = await tokens.issue(finished.provider.id, finished.profile, seconds(expiresAt));
    const { sid, sub } = issued.claims;
    const record: SessionRecord = {
      v: SESSION_VERSION,
      sid,
      sub,
      provider: finished.provider.id,
      created: now,
      lastSeen: now,
      expiresAt,
      claims: sessionClaimsOf(issued.claims),
      upstream: { sub: finished.profile.subject, ...(finished.grant.sid ? { sid: finished.grant.sid } : {}) },
    };
    const { refreshToken, idToken } = finished.grant;
    await store.create(record, {
      v: SESSION_VERSION,
      ...(refreshToken ? { refreshToken: sealer.seal(refreshToken, sid) } : {}),
      ...(idToken ? { idToken } : {}),
      refreshedAt: now,
    });
    // After the new one is stored, so that logins of one user at once on several instances each see
    // the others' and together keep within the cap.
    return { ...issued, sessionLeft: config.ttl, ended: await this.#keepWithinCap(sub, sid) };
  }

  /**
   * Ends the user's sessions but the SESSIONS_PER_USER newest, after `begun` is stored. Every
   * instance keeps the same newest ones, so logins of one user at once on several instances
   * together keep within the cap; `begun` itself is left to the others should it be among the oldest.
   */
  async #keepWithinCap(sub: string, begun: string): Promise<EndedSession[]> {
    const living = await this.#deps.store.sessionsOf(sub);
    const oldest = living.slice(0, Math.max(0, living.length - this.#deps.config.perUser));
    const ended: EndedSession[] = [];
    for (const record of oldest) if (record.sid !== begun) ended.push(await this.#end(record, 'capped'));
    return ended;
  }

  /**
   * A new token for the session `claims` names, while it lives, is not revoked, its provider is
   * configured and the access rules would still let its user in, after asking the provider when due.
   * Throws `unauthenticated` when the session is over (the provider's `invalid_grant` ends it),
   * `not_allowed` when a rule refuses, and the provider's error when it could not be asked.
   */
  async renew(claims: PorteroClaims): Promise<RenewedToken> {
    const { store, tokens, providers } = this.#deps;
    const record = await store.get(claims.sid);
    if (!record || record.sub !== claims.sub) throw sessionEnded('(expired, idle or signed out)');
    if (await tokens.isRevoked(record.sid)) throw sessionEnded('(signed out)');
    const provider = providers.get(record.provider);
    // Not ended: an instance of a rolling deploy may lack a provider the others have.
    if (!provider) throw sessionEnded(`(${record.provider} is not configured here)`);
    await this.#deps.checkAccess(provider, record.claims);
    const outcome = await refreshIfDue(this.#deps, provider, record);
    if (outcome === 'invalid_grant') {
      await this.#end(record, 'invalid_grant');
      throw sessionEnded('at the provider');
    }
    // Ended while this renewal ran (a sign-out, its provider refresh in flight): it stays ended.
    const touched = await store.touch(record);
    if (!touched) throw sessionEnded('(signed out during the renewal)');
    const sessionLeft = seconds(touched.expiresAt - this.#deps.clock.now());
    return { ...tokens.renew(touched.claims, seconds(touched.expiresAt)), sessionLeft, refreshed: outcome === 'refreshed' };
  }

  /**
   * `renew` for `/auth`, which a page's many requests reach at once: one renewal per session at a
   * time on this instance, and its token handed out again while it has more than half its life left
   * (behind a proxy that cannot pass `Set-Cookie` on, the browser keeps presenting the old token).
   * A revocation still counts at once.
   */
  async renewShared(claims: PorteroClaims): Promise<RenewedToken> {
    const recent = this.#recent.get(claims.sid);
    if (recent && recent.sub === claims.sub && recent.reuseUntil > this.#deps.clock.now()) {
      if (!(await this.#deps.tokens.isRevoked(claims.sid))) return recent.renewal;
    }
    const entry: RecentRenewal = { sub: claims.sub, renewal: this.renew(claims), reuseUntil: Number.POSITIVE_INFINITY };
    this.#recent.delete(claims.sid);
    this.#recent.set(claims.sid, entry);
    if (this.#recent.size > MAX_RECENT_RENEWALS) this.#recent.delete(this.#recent.keys().next().value as string);
    entry.renewal.then(
      (renewed) => {
        entry.reuseUntil = renewed.claims.exp * 1000 - (this.#deps.tokenTtl * 1000) / 2;
      },
      () => this.#recent.get(claims.sid) === entry && this.#recent.delete(claims.sid),
    );
    return entry.renewal;
  }

  /**
   * The record of the session `claims` names while it lives: not revoked, its provider configured,
   * its user still let in by the access rules (throws `not_allowed` otherwise). Undefined once ended.
   */
  async living(claims: Pick<PorteroClaims, 'sid'> & Partial<Pick<PorteroClaims, 'sub'>>): Promise<SessionRecord | undefined> {
    const { store, tokens, providers } = this.#deps;
    const record = await store.get(claims.sid);
    if (!record || (claims.sub !== undefined && record.sub !== claims.sub) || (await tokens.isRevoked(record.sid))) return undefined;
    const provider = providers.get(record.provider);
    if (!provider) return undefined;
    await this.#deps.checkAccess(provider, record.claims);
    return record;
  }

  /**
   * Records the user active in session `record` now (an app of the OpenID Provider exchanged a code
   * or a refresh token of it): its idle limit starts again. Undefined once it ended meanwhile.
   */
  touch(record: SessionRecord): Promise<SessionRecord | undefined> {
    return this.#deps.store.touch(record);
  }

  /** The ID token the provider last gave session `sid`, for `id_token_hint` when signing out there. */
  async idTokenOf(sid: string): Promise<string | undefined> {
    return (await this.#deps.store.grant(sid))?.idToken;
  }

  /** Ends session `sid` (a token's, even of a session whose record is gone: it is revoked all the same). */
  async end(claims: Pick<PorteroClaims, 'sid' | 'sub' | 'provider'>, kind: SessionEndKind): Promise<EndedSession> {
    // Revoked first: this instance denies it at once, even if the store then fails.
    await this.#deps.tokens.revoke(claims.sid);
    const record = await this.#deps.store.get(claims.sid);
    if (record) return this.#forget(record, kind);
    // Its record gone (expired, or an earlier sign-out that failed half-way): what hangs on it ends too.
    const ended = { sid: claims.sid, sub: claims.sub, provider: claims.provider, kind };
    await this.#deps.afterEnd?.(ended);
    return ended;
  }

  /** Ends every session of user `sub` ("sign out everywhere"). */
  async endAllOf(sub: string, kind: SessionEndKind): Promise<EndedSession[]> {
    const ended: EndedSession[] = [];
    for (const record of await this.#deps.store.sessionsOf(sub)) ended.push(await this.#end(record, kind));
    return ended;
  }

  /** Ends the sessions begun in the provider's session `sid`, or of its user `sub` (back-channel logout). */
  async endUpstream(providerId: string, named: { readonly sid?: string; readonly sub?: string }): Promise<EndedSession[]> {
    const { store } = this.#deps;
    const bySid = named.sid ? await store.sessionsOfUpstream(providerId, named.sid) : [];
    const bySub = named.sub && !named.sid ? await store.sessionsOf(`${providerId}:${named.sub}`) : [];
    // Both named: the sessions of that provider session, and only if they are that user's.
    const records = named.sid && named.sub ? bySid.filter((record) => record.upstream.sub === named.sub) : [...bySid, ...bySub];
    const ended: EndedSession[] = [];
    for (const record of records) ended.push(await this.#end(record, 'backchannel'));
    return ended;
  }

  async #end(record: SessionRecord, kind: SessionEndKind): Promise<EndedSession> {
    await this.#deps.tokens.revoke(record.sid);
    return this.#forget(record, kind);
  }

  /** Forgets a session already revoked: its record, grant and index entries, and its recent renewal. */
  async #forget(record: SessionRecord, kind: SessionEndKind): Promise<EndedSession> {
    this.#recent.delete(record.sid);
    await this.#deps.store.remove(record);
    const ended = { sid: record.sid, sub: record.sub, provider: record.provider, kind };
    await this.#deps.afterEnd?.(ended);
    return ended;
  }
}
