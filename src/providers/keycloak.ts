import { asObject } from './claims.js';
import { openIdConnect, profileFromSources } from './oidc.js';
import { type IssuerSettings, readBaseUrl, readIssuer, readSegment } from './settings.js';
import { type CommonSettings, defineProvider, type JsonObject, type SettingsReader } from './types.js';

/**
 * The realm's issuer: `PROVIDER_<ID>_URL` (the server, `https://sso.example.com`, or
 * `https://sso.example.com/auth` before Keycloak 17) with `_REALM`, or `_ISSUER` as it is; one form.
 */
function readRealmIssuer(reader: SettingsReader): IssuerSettings {
  const p = reader.prefix;
  const parts = reader.value('URL') !== undefined || reader.value('REALM') !== undefined;
  if (reader.value('ISSUER') !== undefined) {
    if (parts) reader.problem(`${p}ISSUER names the realm already: set it alone, or ${p}URL with ${p}REALM instead`);
    return readIssuer(reader);
  }
  if (!parts) {
    reader.problem(
      `${p}URL and ${p}REALM are required for Keycloak (the server's address, like https://sso.example.com, and the realm's name), or else ${p}ISSUER (https://sso.example.com/realms/<realm>)`,
    );
    return { issuer: '' };
  }
  const base = readBaseUrl(reader, 'URL', `beside ${p}REALM: the server's address, like https://sso.example.com`);
  const realm = readSegment(
    reader,
    'REALM',
    `for Keycloak beside ${p}URL (the realm's name, as in https://sso.example.com/realms/<realm>)`,
  );
  if (base?.includes('/realms/')) reader.problem(`${p}URL is the server's address, without /realms/<realm>: ${p}REALM names the realm`);
  return { issuer: base && realm ? `${base}/realms/${realm}` : '' };
}

/** Keycloak's full group paths lose their leading slash (see `keycloakGroups`); a rule spelt with one would match nothing. */
function checkGroupRules(reader: SettingsReader, common: CommonSettings): void {
  for (const group of common.access?.groups ?? []) {
    if (group.startsWith('/')) {
      reader.problem(
        `${reader.prefix}ALLOWED_GROUPS entry ${JSON.stringify(group)}: write Keycloak group paths without the leading slash (${JSON.stringify(group.slice(1))})`,
      );
    }
  }
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string' && item !== '') : [];

/**
 * The realm roles (`realm_access.roles`) as `role:<role>` and the client roles
 * (`resource_access.<client>.roles`) as `role:<client>:<role>`, as oauth2-proxy's keycloak-oidc
 * spells them, from the first source that has each claim.
 */
function roles(sources: readonly (JsonObject | undefined)[]): string[] {
  const realm = sources.map((source) => asObject(source?.realm_access)).find(Boolean);
  const clients = sources.map((source) => asObject(source?.resource_access)).find(Boolean) ?? {};
  return [
    ...strings(realm?.roles).map((role) => `role:${role}`),
    ...Object.entries(clients).flatMap(([client, access]) => strings(asObject(access)?.roles).map((role) => `role:${client}:${role}`)),
  ];
}

/**
 * Keycloak, found by discovery from its realm's issuer. Its group membership mapper gives full
 * paths (`/admins`, `/acme/platform`) by default: portero drops the one leading slash, so
 * `_ALLOWED_GROUPS=admins` is the top-level group `/admins` and `acme/platform` a subgroup, never a
 * `platform` elsewhere. Roles count as groups `role:<role>` and `role:<client>:<role>` when the
 * realm's role mappers add them to the ID token or userinfo (Keycloak puts them only in the
 * access token by default, which portero does not read: it is the resource servers').
 */
export const keycloak = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'keycloak',
  displayName: 'Keycloak',
  requiresClientSecret: true,
  variables: ['ISSUER', 'URL', 'REALM'],
  readSettings(reader, common) {
    checkGroupRules(reader, common);
    return readRealmIssuer(reader);
  },
  async profile({ idTokenClaims, userinfo, settings }) {
    const sources = [idTokenClaims, await userinfo()];
    const { groups: paths, ...profile } = profileFromSources(sources, settings);
    const groups = [...(paths ?? []).map((path) => path.replace(/^\//, '')), ...roles(sources)];
    return groups.length > 0 ? { ...profile, groups } : profile;
  },
});
