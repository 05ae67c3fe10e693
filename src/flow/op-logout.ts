import type { default as Provider } from 'oidc-provider';
import { type OpSessionLinks, porteroSidOf, sidsGiven } from './op-sessions.js';

/** What became of one app's back-channel logout, for the log. */
export interface AppLogout {
  readonly clientId: string;
  /** The sid the logout token named. */
  readonly sid: string;
  /** `sent`: the app answered 2xx; `failed`: it did not, or could not be reached (its tokens are revoked all the same). */
  readonly outcome: 'sent' | 'failed';
  readonly error?: string;
}

type ProviderSession = NonNullable<Awaited<ReturnType<Provider['Session']['findByUid']>>>;

/** Revokes a grant and every token issued under it, as oidc-provider's own sign-out does (`lib/helpers/revoke.js`). */
async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
  await Promise.all([
    provider.AccessToken.adapter.revokeByGrantId(grantId),
    provider.AuthorizationCode.adapter.revokeByGrantId(grantId),
    provider.RefreshToken.adapter.revokeByGrantId(grantId),
  ]);
  await (await provider.Grant.find(grantId))?.destroy();
}

type LogoutClient = { clientId: string; backchannelLogoutUri?: string; backchannelLogout(sub: string, sid: string): Promise<void> };

/** A logout token to app `clientId` for each of `sids`, when it has a back-channel logout URI. */
async function sendLogouts(provider: Provider, clientId: string, accountId: string, sids: readonly string[]): Promise<AppLogout[]> {
  // The model's method is not in @types/oidc-provider (lib/models/client.js, `backchannelLogout`).
  const client = (await provider.Client.find(clientId)) as LogoutClient | undefined;
  if (!client?.backchannelLogoutUri) return [];
  const outcomes: AppLogout[] = [];
  for (const sid of sids) {
    try {
      await client.backchannelLogout(accountId, sid);
      outcomes.push({ clientId, sid, outcome: 'sent' });
    } catch (err) {
      outcomes.push({ clientId, sid, outcome: 'failed', error: (err as Error).message.slice(0, 200) });
    }
  }
  return outcomes;
}

async function logOutApps(provider: Provider, session: ProviderSession): Promise<AppLogout[]> {
  const outcomes: AppLogout[] = [];
  for (const [clientId, authorization] of Object.entries(session.authorizations ?? {})) {
    if (authorization.grantId) await revokeGrant(provider, authorization.grantId);
    if (session.accountId) outcomes.push(...(await sendLogouts(provider, clientId, session.accountId, sidsGiven(authorization))));
  }
  return outcomes;
}

/**
 * The logout tokens oidc-provider's own end-session endpoint does not send: it names each app's
 * current sid only, not those it was given before the session mirrored a newer portero session.
 */
export async function logOutEarlierSids(provider: Provider, session: ProviderSession): Promise<AppLogout[]> {
  const outcomes: AppLogout[] = [];
  for (const [clientId, authorization] of Object.entries(session.authorizations ?? {})) {
    const earlier = sidsGiven(authorization).filter((sid) => sid !== authorization.sid);
    if (session.accountId && earlier.length > 0) outcomes.push(...(await sendLogouts(provider, clientId, session.accountId, earlier)));
  }
  return outcomes;
}

/**
 * Ends the OpenID Provider's sessions that mirror portero session `porteroSid`, which ended
 * elsewhere (`/logout`, sign out everywhere, an upstream back-channel logout, the cap on a user's
 * sessions): each app of each is sent a back-channel logout token, and its grants and tokens are
 * revoked. A session the provider ended itself (its end-session endpoint) is already gone.
 */
export async function endProviderSessionsOf(provider: Provider, links: OpSessionLinks, porteroSid: string): Promise<AppLogout[]> {
  const outcomes: AppLogout[] = [];
  for (const uid of await links.uidsOf(porteroSid)) {
    const session = await provider.Session.findByUid(uid);
    // Since bound to a newer portero session of the same user (prompt=login): that one ends it.
    if (!session || porteroSidOf(session) !== porteroSid) continue;
    outcomes.push(...(await logOutApps(provider, session)));
    await session.destroy();
  }
  await links.forget(porteroSid);
  return outcomes;
}
