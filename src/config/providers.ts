import { findPreset, presets, type Provider } from '../../providers/index.js';
import type { Env } from './env.js';
import type { ProviderSettings } from './types.js';

const SUFFIXES = [
  'CLIENT_ID',
  'CLIENT_SECRET',
  'TYPE',
  'ISSUER',
  'SCOPES',
  'AUTHORIZATION_URL',
  'TOKEN_URL',
  'USERINFO_URL',
  'NAME',
  'SUBJECT_CLAIM',
] as const;
type Suffix = (typeof SUFFIXES)[number];

// Lazy id, so `PROVIDER_CORP_TOKEN_URL` is provider `CORP` with `TOKEN_URL`, not `CORP_TOKEN` with `URL`.
const VARIABLE = new RegExp(`^PROVIDER_([A-Z0-9_]+?)_(${SUFFIXES.join('|')})$`);

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export const isLoopbackHost = (hostname: string) =>
  LOOPBACK_HOSTS.has(hostname) || hostname.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(hostname);

/** An https URL, or http on a loopback host (local IdPs and tests); anything else is a problem. */
function checkEndpoint(variable: string, value: string, problems: string[]): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${variable} is not a URL: ${JSON.stringify(value)}`);
    return;
  }
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  problems.push(
    url.protocol === 'http:'
      ? `${variable} uses plain http on a non-loopback host (${url.host}); use https`
      : `${variable} must be an https URL`,
  );
}

type ProviderVariables = Partial<Record<Suffix, string>>;

/** Groups the `PROVIDER_<ID>_*` variables by raw id (`MY_CORP`); an unknown suffix is a problem. */
function groupByProvider(env: Env, problems: string[]): Map<string, ProviderVariables> {
  const grouped = new Map<string, ProviderVariables>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PROVIDER_') || value === undefined) continue;
    const match = VARIABLE.exec(name);
    if (!match) {
      problems.push(`${name} is not a provider setting (known: PROVIDER_<ID>_${SUFFIXES.join(', _')})`);
      continue;
    }
    const [, rawId, suffix] = match as unknown as [string, string, Suffix];
    const entry = grouped.get(rawId) ?? {};
    entry[suffix] = value.trim();
    grouped.set(rawId, entry);
  }
  return grouped;
}

/** Each endpoint the provider's protocol needs is present and https (or http on loopback). */
function checkEndpoints(prefix: string, preset: Provider, settings: ProviderSettings, problems: string[]): void {
  if (preset.protocol === 'oidc') {
    if (!settings.issuer) problems.push(`${prefix}ISSUER is required for ${preset.displayName} (OIDC discovery)`);
    else checkEndpoint(`${prefix}ISSUER`, settings.issuer, problems);
    return;
  }
  const endpoints = [
    ['AUTHORIZATION_URL', settings.authorizationUrl],
    ['TOKEN_URL', settings.tokenUrl],
    ['USERINFO_URL', settings.userinfoUrl],
  ] as const;
  for (const [suffix, value] of endpoints) {
    if (!value) problems.push(`${prefix}${suffix} is required for ${preset.displayName}`);
    else checkEndpoint(`${prefix}${suffix}`, value, problems);
  }
}

/** One provider's settings from its variables and preset, or undefined after recording why not. */
function providerFrom(rawId: string, vars: ProviderVariables, problems: string[]): ProviderSettings | undefined {
  const id = rawId.toLowerCase().replaceAll('_', '-');
  const prefix = `PROVIDER_${rawId}_`;
  if (!vars.CLIENT_ID) {
    problems.push(`${prefix}CLIENT_ID is missing, yet other ${prefix}* variables are set`);
    return undefined;
  }
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(id)) {
    problems.push(`provider id "${id}" (from ${prefix}CLIENT_ID) must be letters and digits separated by single underscores`);
    return undefined;
  }
  const type = vars.TYPE || id;
  const preset = findPreset(type);
  if (!preset) {
    const known = Object.keys(presets).join(', ');
    problems.push(
      vars.TYPE
        ? `${prefix}TYPE=${vars.TYPE} is not a known provider type (known: ${known})`
        : `${prefix}TYPE is missing: "${id}" is not a preset name (known: ${known})`,
    );
    return undefined;
  }
  if (preset.requiresClientSecret && !vars.CLIENT_SECRET) {
    problems.push(`${prefix}CLIENT_SECRET is required for ${preset.displayName}`);
  }
  const settings: ProviderSettings = {
    id,
    type,
    clientId: vars.CLIENT_ID,
    clientSecret: vars.CLIENT_SECRET || undefined,
    issuer: vars.ISSUER || preset.issuer,
    scopes: vars.SCOPES ? vars.SCOPES.split(/[\s,]+/).filter(Boolean) : undefined,
    authorizationUrl: vars.AUTHORIZATION_URL || preset.endpoints?.authorization,
    tokenUrl: vars.TOKEN_URL || preset.endpoints?.token,
    userinfoUrl: vars.USERINFO_URL || preset.endpoints?.userinfo,
    displayName: vars.NAME || undefined,
    subjectClaim: vars.SUBJECT_CLAIM || undefined,
  };
  checkEndpoints(prefix, preset, settings, problems);
  return settings;
}

/** Reads every `PROVIDER_<ID>_*` variable; pushes one line per problem found. */
export function parseProviders(env: Env, problems: string[]): ProviderSettings[] {
  const providers: ProviderSettings[] = [];
  for (const [rawId, vars] of groupByProvider(env, problems)) {
    const settings = providerFrom(rawId, vars, problems);
    if (settings) providers.push(settings);
  }
  return providers.sort((a, b) => a.id.localeCompare(b.id));
}
