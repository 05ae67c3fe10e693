import { normalizeDomain } from '../shared/email.js';
import { openIdConnect } from './oidc.js';
import type { IssuerSettings } from './settings.js';
import { defineProvider, type SettingsReader } from './types.js';

/**
 * `PROVIDER_<ID>_DOMAIN` (`tenant.eu.auth0.com`, or a custom domain) gives the issuer
 * `https://<domain>/`: Auth0's issuer ends with a slash, and discovery and the ID token's `iss`
 * are compared with it exactly.
 */
function readTenantIssuer(reader: SettingsReader): IssuerSettings {
  const raw = reader.value('DOMAIN');
  const domain = raw === undefined ? undefined : normalizeDomain(raw);
  if (raw === undefined) {
    reader.problem(`${reader.prefix}DOMAIN is required for Auth0: the tenant's domain (like tenant.eu.auth0.com) or its custom domain`);
  } else if (domain === undefined) {
    reader.problem(`${reader.prefix}DOMAIN is a host name like tenant.eu.auth0.com, without https:// or a path: ${JSON.stringify(raw)}`);
  }
  return { issuer: domain ? `https://${domain}/` : '' };
}

/**
 * Auth0. Roles and groups are no standard claim there: an Action adds them to the ID token under
 * a namespaced name (`https://example.com/roles`), which `_GROUPS_CLAIM` names. The secret goes
 * in the form body, as a new Regular Web Application's "Client Secret (Post)" expects.
 */
export const auth0 = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'auth0',
  displayName: 'Auth0',
  requiresClientSecret: true,
  variables: ['DOMAIN'],
  tokenAuthMethod: 'client_secret_post',
  readSettings: readTenantIssuer,
});
