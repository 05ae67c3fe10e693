import { oidc } from './oidc.js';
import type { Provider } from './types.js';

/** Google is a conforming OpenID provider; its ID token already carries email and profile claims. */
export const google = {
  ...oidc,
  type: 'google',
  displayName: 'Google',
  issuer: 'https://accounts.google.com',
  requiresClientSecret: true,
} as const satisfies Provider;
