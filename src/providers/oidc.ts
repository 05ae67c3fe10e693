import { profileFromStandardClaims } from './claims.js';
import { profileRefused } from './errors.js';
import { ISSUER_VARIABLES, type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider, type ProfileSource } from './types.js';

/** The profile of any OpenID provider: the validated ID token's claims, completed by userinfo's. */
export async function standardOidcProfile({ idTokenClaims, userinfo }: ProfileSource) {
  // Many providers (`oidc-provider` among them) put profile claims only in userinfo.
  const profile = profileFromStandardClaims([idTokenClaims, await userinfo()]);
  if (!profile) throw profileRefused('ID token without sub');
  return profile;
}

/**
 * Any OpenID Connect provider, found by discovery from `PROVIDER_<ID>_ISSUER`. The ID token is
 * validated (signature against the issuer's JWKS, issuer, audience, expiry, nonce).
 */
export const oidc = defineProvider<IssuerSettings>({
  type: 'oidc',
  displayName: 'OpenID Connect',
  protocol: 'oidc',
  scopes: ['openid', 'profile', 'email'],
  requiresClientSecret: false,
  variables: ISSUER_VARIABLES,
  readSettings: (reader) => readIssuer(reader),
  server: (settings) => ({ kind: 'discovery', issuer: settings.issuer }),
  profile: standardOidcProfile,
});
