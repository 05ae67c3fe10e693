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
