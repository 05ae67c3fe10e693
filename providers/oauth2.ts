import { profileFromStandardClaims } from './claims.js';
import type { Provider } from './types.js';

/**
 * A plain OAuth 2.0 provider without discovery or ID token: explicit endpoints
 * (`PROVIDER_<ID>_AUTHORIZATION_URL`, `_TOKEN_URL`, `_USERINFO_URL`), profile from the userinfo
 * response. The user id is read from `PROVIDER_<ID>_SUBJECT_CLAIM`, else `sub`, else `id`;
 * `email`, `email_verified`, `name`, `preferred_username` and `picture` are taken as named.
 */
export const oauth2 = {
  type: 'oauth2',
  displayName: 'OAuth 2.0',
  protocol: 'oauth2',
  scopes: [],
  requiresClientSecret: false,
  async profile(source) {
    const subjectClaims = source.settings.subjectClaim ? [source.settings.subjectClaim] : ['sub', 'id'];
    const profile = profileFromStandardClaims([await source.userinfo()], subjectClaims);
    if (!profile) throw new TypeError(`userinfo response has no ${subjectClaims.join(' or ')}`);
    return profile;
  },
} as const satisfies Provider;
