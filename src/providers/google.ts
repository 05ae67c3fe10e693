import { openIdConnect } from './oidc.js';
import { type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider } from './types.js';

const GOOGLE_ISSUER = 'https://accounts.google.com';

/** Google is a conforming OpenID provider; its ID token already carries email and profile claims. */
export const google = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'google',
  displayName: 'Google',
  requiresClientSecret: true,
  // Any Google account, gmail.com included, until a hosted domain or an access rule says otherwise.
  publicUsers: () => true,
  readSettings: (reader) => readIssuer(reader, GOOGLE_ISSUER),
});
