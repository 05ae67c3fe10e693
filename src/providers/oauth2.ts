import { profileFromStandardClaims } from './claims.js';
import { profileRefused } from './errors.js';
import { ENDPOINT_VARIABLES, type EndpointSettings, hostOf, isPublicProviderUrl, readEndpoints } from './settings.js';
import { defineProvider } from './types.js';

interface OAuth2Settings extends EndpointSettings {
  /** `PROVIDER_<ID>_SUBJECT_CLAIM`: the userinfo field that holds the stable user id. */
  readonly subjectClaim?: string;
}

/**
 * What the OAuth 2.0 presets of a service anyone can join share (Facebook, Discord, Bitbucket): a
 * confidential client, its endpoints fixed, no settings of their own, and users who are the
 * general public, so production wants an access rule or `_ALLOW_ALL`. A preset spreads it and adds
 * its type, name, scopes, endpoints and profile.
 */
export const publicOAuth2Service = {
  protocol: 'oauth2',
  requiresClientSecret: true,
  publicUsers: () => true,
  variables: [],
  readSettings: () => ({}),
} as const;

/**
 * A plain OAuth 2.0 provider without discovery or ID token: explicit endpoints
 * (`PROVIDER_<ID>_AUTHORIZATION_URL`, `_TOKEN_URL`, `_USERINFO_URL`), profile from the userinfo
 * response. The user id is read from `PROVIDER_<ID>_SUBJECT_CLAIM`, else `sub`, else `id`;
 * `email`, `email_verified`, `name`, `preferred_username` and `picture` are taken as named.
 */
export const oauth2 = defineProvider<OAuth2Settings>({
  type: 'oauth2',
  displayName: 'OAuth 2.0',
  // The host a person is sent to sign in at: its authorization URL's.
  displayNameFor: (settings) => hostOf(settings.authorizationUrl, 'OAuth 2.0'),
  protocol: 'oauth2',
  scopes: [],
  requiresClientSecret: false,
  // Endpoints of github.com, Discord, Entra's common... sign in the general public, whatever the type says.
  publicUsers: (settings) => [settings.authorizationUrl, settings.tokenUrl, settings.userinfoUrl].some(isPublicProviderUrl),
  variables: [...ENDPOINT_VARIABLES, 'SUBJECT_CLAIM'],
  readSettings(reader) {
    const subjectClaim = reader.value('SUBJECT_CLAIM');
    return { ...readEndpoints(reader), ...(subjectClaim ? { subjectClaim } : {}) };
  },
  server: (settings) => ({
    kind: 'endpoints',
    endpoints: { authorization: settings.authorizationUrl, token: settings.tokenUrl, userinfo: settings.userinfoUrl },
  }),
  async profile(source) {
    const subjectClaims = source.settings.subjectClaim ? [source.settings.subjectClaim] : ['sub', 'id'];
    const profile = profileFromStandardClaims([await source.userinfo()], subjectClaims);
    if (!profile) throw profileRefused(`userinfo response has no ${subjectClaims.join(' or ')}`);
    return profile;
  },
});
