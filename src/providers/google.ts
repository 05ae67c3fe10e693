import { normalizeDomain } from '../shared/email.js';
import { accountRefused } from './errors.js';
import { openIdConnect, standardOidcProfile } from './oidc.js';
import { ISSUER_VARIABLES, type IssuerSettings, providerPrefix, readIssuer } from './settings.js';
import { defineProvider, type ProfileSource } from './types.js';

const GOOGLE_ISSUER = 'https://accounts.google.com';

interface GoogleSettings extends IssuerSettings {
  /** `PROVIDER_<ID>_HOSTED_DOMAIN`: only accounts of this Google Workspace domain sign in. */
  readonly hostedDomain?: string;
}

/**
 * Google is a conforming OpenID provider; its ID token already carries email and profile claims.
 * With `_HOSTED_DOMAIN` it asks Google for accounts of that Workspace domain (`hd`) and, since the
 * parameter only preselects (a user can edit the request), checks the validated ID token's `hd`.
 */
export const google = defineProvider<GoogleSettings>({
  ...openIdConnect,
  type: 'google',
  displayName: 'Google',
  requiresClientSecret: true,
  variables: [...ISSUER_VARIABLES, 'HOSTED_DOMAIN'],
  // Any Google account, gmail.com included, unless a hosted domain (or an access rule) says who.
  publicUsers: (settings) => settings.hostedDomain === undefined,
  accessVariables: ['HOSTED_DOMAIN'],
  readSettings(reader) {
    const raw = reader.value('HOSTED_DOMAIN');
    const hostedDomain = raw === undefined ? undefined : normalizeDomain(raw);
    if (raw !== undefined && hostedDomain === undefined)
      reader.problem(`${reader.prefix}HOSTED_DOMAIN is not a domain: ${JSON.stringify(raw)}`);
    return { ...readIssuer(reader, GOOGLE_ISSUER), ...(hostedDomain ? { hostedDomain } : {}) };
  },
  authorizationParams: (settings): Record<string, string> => (settings.hostedDomain ? { hd: settings.hostedDomain } : {}),
  async profile(source: ProfileSource<GoogleSettings>) {
    const profile = await standardOidcProfile(source);
    const { hostedDomain } = source.settings;
    const hd = source.idTokenClaims?.hd;
    if (hostedDomain && (typeof hd !== 'string' || normalizeDomain(hd) !== hostedDomain)) {
      throw accountRefused(`${providerPrefix(source.settings.id)}HOSTED_DOMAIN`, 'hosted domain', profile.email);
    }
    return profile;
  },
});
