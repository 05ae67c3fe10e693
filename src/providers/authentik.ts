import { openIdConnect } from './oidc.js';
import { type IssuerSettings, readBaseUrl, readSegment } from './settings.js';
import { defineProvider, type SettingsReader } from './types.js';

/**
 * `PROVIDER_<ID>_URL` (authentik's address) and `_SLUG` (the application's) give the issuer
 * `<URL>/application/o/<slug>/`, with the trailing slash authentik publishes it with.
 */
function readApplicationIssuer(reader: SettingsReader): IssuerSettings {
  const p = reader.prefix;
  const base = readBaseUrl(reader, 'URL', "authentik's address, like https://authentik.company");
  const slug = readSegment(reader, 'SLUG', "for authentik (the application's slug, as in <URL>/application/o/<slug>/)");
  if (base?.includes('/application/o/'))
    reader.problem(`${p}URL is authentik's address, without /application/o/<slug>: ${p}SLUG names the application`);
  return { issuer: base && slug ? `${base}/application/o/${slug}/` : '' };
}

/**
 * authentik, one application (its OAuth2/OpenID provider) found by discovery. Its default
 * `profile` scope mapping lists the user's group names as `groups`.
 */
export const authentik = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'authentik',
  displayName: 'authentik',
  requiresClientSecret: true,
  variables: ['URL', 'SLUG'],
  readSettings: readApplicationIssuer,
});
