import { openIdConnect } from './oidc.js';
import { type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider, type SettingsReader } from './types.js';

/**
 * The tenant segments of Entra ID's multi-tenant endpoints, whose tokens come from any tenant; and
 * the tenant id of `consumers`, which every personal Microsoft account belongs to.
 */
const MULTI_TENANT = ['common', 'organizations', 'consumers', '9188040d-6c67-4c5b-b112-36a304b66dad'];

/** The issuer, which must name one tenant: a multi-tenant one would let every Entra tenant sign in. */
function readTenantIssuer(reader: SettingsReader): IssuerSettings {
  const settings = readIssuer(reader);
  const tenant = URL.canParse(settings.issuer) ? new URL(settings.issuer).pathname.split('/')[1] : undefined;
  if (tenant && MULTI_TENANT.includes(tenant.toLowerCase())) {
    reader.problem(
      `${reader.prefix}ISSUER names the multi-tenant endpoint "${tenant}", where every Entra tenant (or every personal account) could sign in; use your tenant's: https://login.microsoftonline.com/<tenant id>/v2.0`,
    );
  }
  return settings;
}

/**
 * Microsoft Entra ID. The issuer names the tenant, so it is required:
 * `PROVIDER_MICROSOFT_ISSUER=https://login.microsoftonline.com/<tenant id>/v2.0`.
 */
export const microsoft = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'microsoft',
  displayName: 'Microsoft',
  requiresClientSecret: true,
  readSettings: readTenantIssuer,
});
