import type { Context } from 'hono';
import type { EndedSession } from '../flow/session-lifecycle.js';
import type { PorteroClaims } from '../shared/claims.js';
import type { AppEnv, SecurityEvent } from './types.js';

/** A session ended, as the log and the metrics name it: `reason` is its kind (logout, everywhere, backchannel, invalid_grant, capped). */
export const sessionEndedEvent = (ended: EndedSession): SecurityEvent => ({
  event: 'session_ended',
  fields: { sub: ended.sub, sid: ended.sid, provider: ended.provider, reason: ended.kind },
});

/** A token renewed for its session, by `/refresh` or `/auth`; `refreshed` when the provider was asked too. */
export const tokenRenewedEvent = (claims: PorteroClaims, via: 'refresh' | 'auth', refreshed: boolean): SecurityEvent => ({
  event: 'token_renewed',
  fields: { sub: claims.sub, sid: claims.sid, provider: claims.provider, via, refreshed: refreshed ? 'true' : 'false' },
});

/** Adds events to those the request log writes for this request. */
export function reportEvents(c: Context<AppEnv>, events: readonly SecurityEvent[]): void {
  if (events.length > 0) c.set('securityEvents', [...(c.get('securityEvents') ?? []), ...events]);
}
