import { openIdConnect } from './oidc.js';
import { ISSUER_VARIABLES, type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider } from './types.js';

/** Its discovery document is at `https://www.linkedin.com/oauth/.well-known/openid-configuration`. */
const LINKEDIN_ISSUER = 'https://www.linkedin.com/oauth';

/**
 * Sign In with LinkedIn using OpenID Connect. Its discovery names no client authentication and its
 * token endpoint takes the secret in the form body only; it answers a PKCE `code_verifier` with an
 * error and puts no `nonce` into its ID tokens, so neither is sent. The ID token carries `email`,
 * `email_verified` (at times the string `"true"`), `name` and `picture`; userinfo, on
 * api.linkedin.com, the same. No `iss` comes back with the callback, and discovery does not promise it.
 */
export const linkedin = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'linkedin',
  displayName: 'LinkedIn',
  requiresClientSecret: true,
  variables: ISSUER_VARIABLES,
  // Anyone can open a LinkedIn account.
  publicUsers: () => true,
  tokenAuthMethod: 'client_secret_post',
  unsupported: ['pkce', 'nonce'],
  readSettings: (reader) => readIssuer(reader, LINKEDIN_ISSUER),
});
