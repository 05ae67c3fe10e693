import { oidc } from './oidc.js';
import type { Provider } from './types.js';

/**
 * Microsoft Entra ID. The issuer names the tenant, so it is required:
 * `PROVIDER_MICROSOFT_ISSUER=https://login.microsoftonline.com/<tenant id>/v2.0`.
 * (The multi-tenant `common` endpoint publishes a templated issuer that strict validation refuses.)
 */
export const microsoft = {
  ...oidc,
  type: 'microsoft',
  displayName: 'Microsoft',
  requiresClientSecret: true,
} as const satisfies Provider;
