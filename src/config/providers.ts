import {
  type CommonSettings,
  findPreset,
  type ProviderDefinition,
  type ProviderRegistry,
  type ProviderSettings,
  presets,
} from '../providers/index.js';
import { isHttpAllowed } from '../shared/loopback.js';
import { CLIENT_AUTH_SUFFIXES, readClientCredentials } from './client-auth.js';
import { accessRules, readDomains, readEmails, readEmailsFile, readGroups } from './access.js';
import { readClaimNames } from './claims.js';
import type { Env } from './env.js';
import type { EnvReader } from './reader.js';
import { providerSessionSettings } from './sessions.js';

/** What every provider reads; its preset declares the rest (`ProviderDefinition.variables`). */
export const COMMON_SUFFIXES = [
  'CLIENT_ID',
  'CLIENT_SECRET',
  'TYPE',
  'SCOPES',
  'NAME',
  'ALLOWED_EMAIL_DOMAINS',
  'ALLOWED_EMAILS',
  'ALLOWED_EMAILS_FILE',
  'ALLOWED_GROUPS',
  'GROUPS_CLAIM',
  'ALLOW_ALL',
  ...CLIENT_AUTH_SUFFIXES,
  'CLAIMS',
  'REFRESH_INTERVAL',
  'LOGOUT',
] as const;

type ProviderVariables = Map<string, string>;

/** Settings of every provider at once, not of one named `<ID>`: read with the flow's (`PROVIDER_TIMEOUT`). */
const ALL_PROVIDERS_SETTINGS = new Set(['PROVIDER_TIMEOUT']);

/** Groups the `PROVIDER_<ID>_*` variables by raw id (`MY_CORP`); a suffix no preset knows is a problem. */
function groupByProvider(env: Env, registry: ProviderRegistry, reader: EnvReader): Map<string, ProviderVariables> {
  const suffixes = [...new Set([...COMMON_SUFFIXES, ...Object.values(registry).flatMap((preset) => preset.variables)])];
  // Lazy id, so `PROVIDER_CORP_TOKEN_URL` is provider `CORP` with `TOKEN_URL`, not `CORP_TOKEN` with `URL`.
  const variable = new RegExp(`^PROVIDER_([A-Z0-9_]+?)_(${suffixes.join('|')})$`);
  const grouped = new Map<string, ProviderVariables>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('PROVIDER_') || ALL_PROVIDERS_SETTINGS.has(name) || value === undefined) continue;
    const match = variable.exec(name);
    if (!match) {
      reader.problem(`${name} is not a provider setting (known: PROVIDER_<ID>_${suffixes.join(', _')})`);
      continue;
    }
    const [, rawId = '', suffix = ''] = match;
    const entry = grouped.get(rawId) ?? new Map<string, string>();
    entry.set(suffix, value.trim());
    grouped.set(rawId, entry);
  }
  return grouped;
}

/** An https URL, or http on a loopback host (local IdPs and tests); anything else is a problem. */
function checkUrl(variable: string, value: string, reader: EnvReader): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    reader.problem(`${variable} is not a URL: ${JSON.stringify(value)}`);
    return undefined;
  }
  if (isHttpAllowed(url)) return value;
  reader.problem(
    url.protocol === 'http:'
      ? `${variable} uses plain http on a non-loopback host (${url.host}); use https`
      : `${variable} must be an https URL`,
  );
  return undefined;
}

/** The preset's own settings, read through its declared variables only. */
function presetSettings(preset: ProviderDefinition, prefix: string, vars: ProviderVariables, common: CommonSettings, reader: EnvReader) {
  const value = (suffix: string) => (preset.variables.includes(suffix) ? vars.get(suffix) || undefined : undefined);
  return preset.readSettings(
    {
      prefix,
      value,
      url(suffix, options = {}) {
        const raw = value(suffix) ?? options.fallback;
        if (raw === undefined) {
          if (options.required) {
            const why = typeof options.required === 'string' ? ` (${options.required})` : '';
            reader.problem(`${prefix}${suffix} is required for ${preset.displayName}${why}`);
          }
          return undefined;
        }
        return checkUrl(`${prefix}${suffix}`, raw, reader);
      },
      problem: (message) => reader.problem(message),
    },
    common,
  );
}

function readAllowAll(variable: string, raw: string | undefined, reader: EnvReader): boolean {
  if (raw === undefined || raw === '' || raw.toLowerCase() === 'false') return false;
  if (raw.toLowerCase() === 'true') return true;
  reader.problem(`${variable} must be true or false, got ${JSON.stringify(raw)}`);
  return false;
}

/** The preset a provider's TYPE (or id) names, or undefined after recording why there is none. */
function presetOf(prefix: string, id: string, type: string | undefined, registry: ProviderRegistry, reader: EnvReader) {
  const preset = findPreset(type || id, registry);
  if (preset) return preset;
  const known = Object.keys(registry).join(', ');
  reader.problem(
    type
      ? `${prefix}TYPE=${type} is not a known provider type (known: ${known})`
      : `${prefix}TYPE is missing: "${id}" is not a preset name (known: ${known})`,
  );
  return undefined;
}

/**
 * Who of the provider's users may sign in: its email, group and allow-all settings. A group rule
 * needs the groups claim of an OpenID provider: an OAuth 2.0 preset's profile has none, so the
 * rule would refuse every user (GitHub's organisations are `_ALLOWED_ORGS`).
 */
function readAccess(prefix: string, vars: ProviderVariables, preset: ProviderDefinition, reader: EnvReader) {
  const access = accessRules(
    readDomains(`${prefix}ALLOWED_EMAIL_DOMAINS`, vars.get('ALLOWED_EMAIL_DOMAINS'), reader),
    readEmails(`${prefix}ALLOWED_EMAILS`, vars.get('ALLOWED_EMAILS'), reader),
    readEmailsFile(`${prefix}ALLOWED_EMAILS_FILE`, vars.get('ALLOWED_EMAILS_FILE'), reader),
    readGroups(vars.get('ALLOWED_GROUPS')),
  );
  const groupsClaim = vars.get('GROUPS_CLAIM') || undefined;
  if (preset.protocol === 'oauth2') {
    for (const suffix of ['ALLOWED_GROUPS', 'GROUPS_CLAIM']) {
      if (vars.get(suffix))
        reader.problem(`${prefix}${suffix} needs an OpenID provider's groups claim: ${preset.type} is OAuth 2.0 and sends none`);
    }
  }
  return { access, groupsClaim, allowAll: readAllowAll(`${prefix}ALLOW_ALL`, vars.get('ALLOW_ALL'), reader) };
}

/** One provider's settings from its variables and preset, or undefined after recording why not. */
function providerFrom(rawId: string, vars: ProviderVariables, registry: ProviderRegistry, reader: EnvReader): ProviderSettings | undefined {
  const id = rawId.toLowerCase().replaceAll('_', '-');
  const prefix = `PROVIDER_${rawId}_`;
  const clientId = vars.get('CLIENT_ID');
  if (!clientId) {
    reader.problem(`${prefix}CLIENT_ID is missing, yet other ${prefix}* variables are set`);
    return undefined;
  }
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(id)) {
    reader.problem(`provider id "${id}" (from ${prefix}CLIENT_ID) must be letters and digits separated by single underscores`);
    return undefined;
  }
  const preset = presetOf(prefix, id, vars.get('TYPE'), registry, reader);
  if (!preset) return undefined;
  for (const suffix of vars.keys()) {
    if (!(COMMON_SUFFIXES as readonly string[]).includes(suffix) && !preset.variables.includes(suffix)) {
      const own = [...COMMON_SUFFIXES, ...preset.variables].join(', _');
      reader.problem(
        `${prefix}${suffix} is not a setting of ${preset.displayName} (its settings: ${prefix}${own.replaceAll(', _', `, ${prefix}`)})`,
      );
    }
  }
  const credentials = readClientCredentials(prefix, vars, preset, reader);
  // Set, even to nothing but separators: exactly these scopes (so none at all), not the preset's.
  const rawScopes = vars.get('SCOPES');
  const scopes = rawScopes ? rawScopes.split(/[\s,]+/).filter(Boolean) : undefined;
  const displayName = vars.get('NAME') || undefined;
  const { access, groupsClaim, allowAll } = readAccess(prefix, vars, preset, reader);
  const claims = readClaimNames(prefix, vars.get('CLAIMS'), reader);
  const common: CommonSettings = {
    id,
    type: preset.type,
    clientId,
    ...credentials,
    ...(scopes ? { scopes: Object.freeze(scopes) } : {}),
    ...(displayName ? { displayName } : {}),
    access,
    allowAll,
    ...(groupsClaim ? { groupsClaim } : {}),
    ...(claims?.length ? { claims: Object.freeze(claims) } : {}),
    ...providerSessionSettings(prefix, vars, reader),
  };
  // Frozen: nothing may change a provider after start-up.
  return Object.freeze({ ...presetSettings(preset, prefix, vars, common, reader), ...common });
}

/** Reads every `PROVIDER_<ID>_*` variable, by the presets of `registry`; records one problem per line. */
export function parseProviders(env: Env, reader: EnvReader, registry: ProviderRegistry = presets): ProviderSettings[] {
  const providers: ProviderSettings[] = [];
  for (const [rawId, vars] of groupByProvider(env, registry, reader)) {
    const settings = providerFrom(rawId, vars, registry, reader);
    if (settings) providers.push(settings);
  }
  return providers.sort((a, b) => a.id.localeCompare(b.id));
}
