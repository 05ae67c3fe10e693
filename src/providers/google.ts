import { standardOidcProfile } from './oidc.js';
import { ISSUER_VARIABLES, type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider } from './types.js';

const GOOGLE_ISSUER = 'https://accounts.google.com';

/** Google is a conforming OpenID provider; its ID token already carries email and profile claims. */
export const google = defineProvider<IssuerSettings>({
  type: 'google',
  displayName: 'Google',
  protocol: 'oidc',
  scopes: ['openid', 'profile', 'email'],
  requiresClientSecret: true,
  variables: ISSUER_VARIABLES,
  readSettings: (reader) => readIssuer(reader, GOOGLE_ISSUER),
  server: (settings) => ({ kind: 'discovery', issuer: settings.issuer }),
  profile: standardOidcProfile,
});
