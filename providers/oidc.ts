import { profileFromStandardClaims } from './claims.js';
import type { Provider } from './types.js';

/**
 * Any OpenID Connect provider, found by discovery from `PROVIDER_<ID>_ISSUER`.
 * Claims come from the validated ID token, completed by userinfo (many providers, `oidc-provider`
 * among them, put profile claims only in userinfo).
 */
export const oidc = {
  type: 'oidc',
  displayName: 'OpenID Connect',
  protocol: 'oidc',
  scopes: ['openid', 'profile', 'email'],
  requiresClientSecret: false,
  async profile({ idTokenClaims, userinfo }) {
    const profile = profileFromStandardClaims([idTokenClaims, await userinfo()]);
    if (!profile) throw new TypeError('ID token without sub');
    return profile;
  },
} as const satisfies Provider;
