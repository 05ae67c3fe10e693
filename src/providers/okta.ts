import { openIdConnect } from './oidc.js';
import { type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider, type SettingsReader } from './types.js';

/**
 * `PROVIDER_<ID>_ISSUER`: the org authorization server (`https://<org>.okta.com`) or a custom one
 * (`https://<org>.okta.com/oauth2/<server id>`, `default` included), without a trailing slash,
 * since Okta publishes none and discovery compares the issuer exactly.
 */
function readOktaIssuer(reader: SettingsReader): IssuerSettings {
  const { issuer } = readIssuer(reader);
  if (!URL.canParse(issuer)) return { issuer };
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, '');
  const p = reader.prefix;
  if (path === '/oauth2/v1') {
    reader.problem(`${p}ISSUER names the endpoints of the org authorization server (/oauth2/v1); its issuer is ${url.origin}`);
  } else if (path !== '' && !/^\/oauth2\/[A-Za-z0-9]+$/.test(path)) {
    reader.problem(
      `${p}ISSUER is https://<org>.okta.com (the org authorization server) or https://<org>.okta.com/oauth2/<server id> (a custom one, like default), not ${issuer}`,
    );
  }
  // The Admin Console's address is no issuer: Okta's is the org's own host, without `-admin`.
  if (/-admin\.(okta|oktapreview|okta-emea)\.com$/.test(url.hostname)) {
    reader.problem(`${p}ISSUER names the Admin Console (${url.hostname}); the issuer is ${url.hostname.replace('-admin.', '.')}`);
  }
  return { issuer: `${url.origin}${path}` };
}

/**
 * Okta, the org authorization server or a custom one. Groups come only when asked for with the
 * `groups` scope and when the app (org server) or the server (custom) has a `groups` claim
 * configured: so it asks `groups` with `_ALLOWED_GROUPS` or `_CLAIMS=groups`, and not otherwise (a
 * custom server without that scope refuses the request).
 */
export const okta = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'okta',
  displayName: 'Okta',
  requiresClientSecret: true,
  scopesFor: (settings) =>
    settings.access?.groups || settings.claims?.includes('groups') ? [...openIdConnect.scopes, 'groups'] : openIdConnect.scopes,
  readSettings: readOktaIssuer,
});
