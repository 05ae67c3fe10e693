import { openIdConnect } from './oidc.js';
import { type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider } from './types.js';

/**
 * Microsoft Entra ID. The issuer names the tenant, so it is required:
 * `PROVIDER_MICROSOFT_ISSUER=https://login.microsoftonline.com/<tenant id>/v2.0`.
 */
export const microsoft = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'microsoft',
  displayName: 'Microsoft',
  requiresClientSecret: true,
  readSettings: (reader) => readIssuer(reader),
});
