import type { SettingsReader } from './types.js';

/** `my-corp` → `PROVIDER_MY_CORP_`, the prefix of its variables (the id is made from them so). */
export const providerPrefix = (id: string) => `PROVIDER_${id.toUpperCase().replaceAll('-', '_')}_`;

/** The settings of a provider found by OpenID Connect discovery. */
export interface IssuerSettings {
  /** The issuer; discovery reads `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
}

/**
 * `PROVIDER_<ID>_ISSUER`, else `fallback` (a preset's well-known issuer); required when there is
 * no fallback. Checked to be https (or http on loopback) either way.
 */
export function readIssuer(reader: SettingsReader, fallback?: string): IssuerSettings {
  return { issuer: reader.url('ISSUER', { required: 'OIDC discovery', ...(fallback ? { fallback } : {}) }) ?? '' };
}

/**
 * `PROVIDER_<ID>_<suffix>`: the address of a self-hosted server (`https://sso.example.com`, or one
 * under a path, `https://example.com/gitlab`), checked as `reader.url` checks it, and without its
 * trailing slash so that paths are appended to it. A query, fragment or user name is a problem.
 */
export function readBaseUrl(reader: SettingsReader, suffix: string, required?: string): string | undefined {
  const raw = reader.url(suffix, required ? { required } : {});
  if (raw === undefined) return undefined;
  const url = new URL(raw);
  if (/[?#]/.test(raw) || url.username || url.password) {
    reader.problem(`${reader.prefix}${suffix} must be an address like https://sso.example.com, without query, fragment or user name`);
    return undefined;
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * `PROVIDER_<ID>_<suffix>`, required (`required` says with what and why): one path segment of an
 * issuer (a realm, an application's slug), so letters, digits, `.`, `_` and `-` only.
 */
export function readSegment(reader: SettingsReader, suffix: string, required: string): string | undefined {
  const value = reader.value(suffix);
  if (value === undefined) reader.problem(`${reader.prefix}${suffix} is required ${required}`);
  else if (!/^[A-Za-z0-9._-]+$/.test(value) || /^\.+$/.test(value))
    reader.problem(`${reader.prefix}${suffix} must be letters, digits, ".", "_" or "-": ${JSON.stringify(value)}`);
  else return value;
  return undefined;
}

/** The settings of a provider without discovery: its three endpoints. */
export interface EndpointSettings {
  readonly authorizationUrl: string;
  readonly tokenUrl: string;
  readonly userinfoUrl: string;
}

/** `PROVIDER_<ID>_AUTHORIZATION_URL`, `_TOKEN_URL` and `_USERINFO_URL`, each else its default, each required without one. */
export function readEndpoints(reader: SettingsReader, defaults?: EndpointSettings): EndpointSettings {
  const read = (suffix: string, fallback: string | undefined) =>
    reader.url(suffix, { required: true, ...(fallback ? { fallback } : {}) }) ?? '';
  return {
    authorizationUrl: read('AUTHORIZATION_URL', defaults?.authorizationUrl),
    tokenUrl: read('TOKEN_URL', defaults?.tokenUrl),
    userinfoUrl: read('USERINFO_URL', defaults?.userinfoUrl),
  };
}

export const ISSUER_VARIABLES = ['ISSUER'] as const;
export const ENDPOINT_VARIABLES = ['AUTHORIZATION_URL', 'TOKEN_URL', 'USERINFO_URL'] as const;

/** A URL's host (with its port, if any), to name a provider by; `fallback` for what is no URL. */
export const hostOf = (url: string, fallback: string) => (URL.canParse(url) ? new URL(url).host : fallback);

/**
 * The hosts of providers whose users are the general public (the public presets' own), where the
 * generic `oidc` and `oauth2` types would sign in every account just as the preset would.
 */
const PUBLIC_HOSTS = new Set([
  'accounts.google.com',
  'oauth2.googleapis.com',
  'openidconnect.googleapis.com',
  'www.googleapis.com',
  'github.com',
  'www.github.com',
  'api.github.com',
  'gitlab.com',
  'appleid.apple.com',
  'facebook.com',
  'www.facebook.com',
  'graph.facebook.com',
  'limited.facebook.com',
  'discord.com',
  'discordapp.com',
  'bitbucket.org',
  'api.bitbucket.org',
  'linkedin.com',
  'www.linkedin.com',
  'api.linkedin.com',
  'slack.com',
  'id.twitch.tv',
  'login.live.com',
]);

/** Entra ID's endpoints for any tenant or any personal account (one tenant's are a company's). */
const ENTRA_PUBLIC_TENANTS = new Set(['common', 'organizations', 'consumers', '9188040d-6c67-4c5b-b112-36a304b66dad']);

/** Whether `url` is an endpoint of a provider whose users are the general public (see {@link PUBLIC_HOSTS}). */
export function isPublicProviderUrl(url: string | undefined): boolean {
  if (url === undefined || !URL.canParse(url)) return false;
  const { hostname, pathname } = new URL(url);
  const host = hostname.replace(/\.$/, '');
  if (host === 'login.microsoftonline.com') return ENTRA_PUBLIC_TENANTS.has(pathname.split('/')[1]?.toLowerCase() ?? '');
  return PUBLIC_HOSTS.has(host);
}
