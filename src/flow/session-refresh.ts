import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import type { Clock } from '../clock.js';
import { PorteroError, UNAUTHENTICATED } from '../errors.js';
import type { SecretSealer } from '../tokens/sealed-secret.js';
import { SESSION_VERSION, type SessionRecord, type SessionStore } from '../tokens/session-store.js';
import { classifyGrantError } from './grant-errors.js';
import type { ConfiguredProvider } from './provider-client.js';

export interface RefreshDeps {
  readonly store: SessionStore;
  readonly sealer: SecretSealer;
  readonly clock: Clock;
  /** PROVIDER_TIMEOUT, seconds: the lock outlives one refresh by this much before it is renewed. */
  readonly providerTimeout: number;
}

/**
 * What `refreshIfDue` did: nothing (no refresh token, or asked recently), asked and was answered,
 * left it to the instance holding the lock, or found the session over (the provider refused the
 * refresh token, or it was sealed under a secret no longer configured).
 */
export type RefreshOutcome = 'not due' | 'refreshed' | 'elsewhere' | 'invalid_grant';

const isInvalidGrant = (cause: unknown) => cause instanceof client.ResponseBodyError && cause.error === 'invalid_grant';

/**
 * Asks the provider again, when the session's grant holds a refresh token last used more than
 * `PROVIDER_<ID>_REFRESH_INTERVAL` ago, whether the user still has access: a user disabled there
 * is refused (`invalid_grant`) at the next renewal after the interval.
 *
 * One instance at a time per session, under a lock in the store that expires (PROVIDER_TIMEOUT and
 * some) and is extended while the call runs, so a crash never holds it for long. An instance that
 * finds it taken renews without asking: the one holding it is asking. The grant is read again
 * under the lock, so of several renewals that queue up behind it one asks, and the rest find it fresh.
 */
export async function refreshIfDue(deps: RefreshDeps, provider: ConfiguredProvider, record: SessionRecord): Promise<RefreshOutcome> {
  const intervalMs = (provider.settings.refreshInterval ?? 0) * 1000;
  const due = (refreshedAt: number) => deps.clock.now() - refreshedAt >= intervalMs;
  if (intervalMs === 0) return 'not due';
  const grant = await deps.store.grant(record.sid);
  if (!grant?.refreshToken || !due(grant.refreshedAt)) return 'not due';

  const owner = randomBytes(12).toString('base64url');
  const lockTtl = deps.providerTimeout + 5;
  if (!(await deps.store.lock(record.sid, owner, lockTtl))) return 'elsewhere';
  const keepAlive = setInterval(() => void deps.store.extendLock(record.sid, owner, lockTtl).catch(() => undefined), (lockTtl * 1000) / 2);
  keepAlive.unref();
  try {
    const current = await deps.store.grant(record.sid);
    if (!current?.refreshToken || !due(current.refreshedAt)) return 'not due';
    const refreshToken = deps.sealer.open(current.refreshToken, record.sid);
    // Sealed under a secret no longer configured: it cannot be used, so the session cannot be confirmed.
    if (refreshToken === undefined) return 'invalid_grant';
    let answer: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      answer = await client.refreshTokenGrant(await provider.client(), refreshToken);
    } catch (cause) {
      if (isInvalidGrant(cause)) return 'invalid_grant';
      throw classifyGrantError(cause, provider.id);
    }
    await deps.store.writeGrant(record, {
      v: SESSION_VERSION,
      // A provider that rotates refresh tokens sends a new one; one that does not keeps the old valid.
      refreshToken: answer.refresh_token ? deps.sealer.seal(answer.refresh_token, record.sid) : current.refreshToken,
      ...((answer.id_token ?? current.idToken) ? { idToken: answer.id_token ?? current.idToken } : {}),
      refreshedAt: deps.clock.now(),
    });
    return 'refreshed';
  } finally {
    clearInterval(keepAlive);
    await deps.store.unlock(record.sid, owner).catch(() => undefined);
  }
}

/** Why the session of a renewal refused is over, in the refusal's `detail.reason`. */
const endedReason = (why: string) => `session ended ${why}`;

/** The refusal of a renewal whose provider ended the session: its `detail.reason`. */
export const ENDED_AT_PROVIDER_REASON = endedReason('at the provider');

/** The refusal of a renewal whose session is over: `why` it is (`at the provider`, `or expired`). */
export const sessionEnded = (why: string) =>
  new PorteroError(UNAUTHENTICATED, `not signed in: the session ended ${why}`, { detail: { reason: endedReason(why) } });
