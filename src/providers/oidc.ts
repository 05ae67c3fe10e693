import { groupsFrom, profileFromStandardClaims } from './claims.js';
import { profileRefused } from './errors.js';
import { hostOf, ISSUER_VARIABLES, type IssuerSettings, isPublicProviderUrl, readIssuer } from './settings.js';
import { type CommonSettings, defineProvider, type JsonObject, type Profile, type ProfileSource, type ProviderSettings } from './types.js';

/**
 * The profile from the standard claims of `sources` (the validated ID token's, then userinfo's),
 * with the groups of `_GROUPS_CLAIM`: for a preset that reads more of the same sources.
 */
export function profileFromSources(sources: readonly (JsonObject | undefined)[], settings: CommonSettings): Profile {
  const profile = profileFromStandardClaims(sources);
  if (!profile) throw profileRefused('ID token without sub');
  const groups = groupsFrom(sources, settings.groupsClaim ?? 'groups');
  return groups ? { ...profile, groups } : profile;
}

/** The profile of any OpenID provider: the validated ID token's claims, completed by userinfo's. */
export async function standardOidcProfile({ idTokenClaims, userinfo, settings }: ProfileSource) {
  // Many providers (`oidc-provider` among them) put profile claims only in userinfo.
  return profileFromSources([idTokenClaims, await userinfo()], settings);
}

/**
 * What every OpenID Connect preset shares: discovery from its issuer (`PROVIDER_<ID>_ISSUER`),
 * the standard scopes, and the profile from standard claims. A preset spreads it and adds its
 * type, name, how it reads its issuer, and its hooks.
 */
export const openIdConnect = {
  protocol: 'oidc',
  scopes: ['openid', 'profile', 'email'],
  variables: ISSUER_VARIABLES,
  server: (settings: ProviderSettings<IssuerSettings>) => ({ kind: 'discovery', issuer: settings.issuer }) as const,
  profile: standardOidcProfile,
} as const;

/**
 * Any OpenID Connect provider, found by discovery from `PROVIDER_<ID>_ISSUER`. The ID token is
 * validated (signature against the issuer's JWKS, issuer, audience, expiry, nonce).
 */
export const oidc = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'oidc',
  displayName: 'OpenID Connect',
  // Its issuer's host (`sso.corp.example`): the one thing a person may recognise without `_NAME`.
  displayNameFor: (settings) => hostOf(settings.issuer, 'OpenID Connect'),
  requiresClientSecret: false,
  // A corporate IdP's users are the company's; Google's or gitlab.com's are anyone's, whatever the type says.
  publicUsers: (settings) => isPublicProviderUrl(settings.issuer),
  readSettings: (reader) => readIssuer(reader),
});
