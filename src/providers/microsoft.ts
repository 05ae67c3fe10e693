import { standardOidcProfile } from './oidc.js';
import { ISSUER_VARIABLES, type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider } from './types.js';

/**
 * Microsoft Entra ID. The issuer names the tenant, so it is required:
 * `PROVIDER_MICROSOFT_ISSUER=https://login.microsoftonline.com/<tenant id>/v2.0`.
 */
export const microsoft = defineProvider<IssuerSettings>({
  type: 'microsoft',
  displayName: 'Microsoft',
  protocol: 'oidc',
  scopes: ['openid', 'profile', 'email'],
  requiresClientSecret: true,
  variables: ISSUER_VARIABLES,
  readSettings: (reader) => readIssuer(reader),
  server: (settings) => ({ kind: 'discovery', issuer: settings.issuer }),
  profile: standardOidcProfile,
});
