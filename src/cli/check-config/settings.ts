import type { Env } from '../../config/env.js';
import { appVariableNames, isAppSetting } from '../../config/apps.js';
import { type ConfigInspection, inspectConfig } from '../../config/parse.js';
import { COMMON_SUFFIXES } from '../../config/providers.js';
import { presets } from '../../providers/index.js';

/** One setting as check-config shows it: its value (masked when secret) and what portero makes of it. */
export interface SettingRow {
  readonly name: string;
  /** As shown: `****` for a secret, credentials masked in a URL; empty when unset. */
  readonly value: string;
  readonly status: 'set' | 'default' | 'missing' | 'wrong';
  /** The problems that name this setting first. */
  readonly problems: readonly string[];
}

/** What a secret shows as: always the same, so not even its length is told. */
export const MASK = '****';

/**
 * Secrets by name: COOKIE_SECRET(_PREVIOUS), every *_SECRET and *_PASSWORD, and every *_KEY
 * (SESSION_KEY) but what names a file or an id. Key files are paths, shown (JWT_KEYS, REDIS_TLS_KEY, *_PRIVATE_KEY_FILE).
 */
const SECRET_NAME = /(^|_)(SECRET|PASSWORD|KEY)(_|$)/;
const NOT_SECRET = /_(FILE|ID)$|^REDIS_TLS_KEY$/;

const PROVIDER_SUFFIXES = [...new Set([...COMMON_SUFFIXES, ...Object.values(presets).flatMap((preset) => preset.variables)])];
const PROVIDER_VARIABLE = new RegExp(`^PROVIDER_[A-Z0-9_]+?_(${PROVIDER_SUFFIXES.join('|')})$`);

/**
 * Whether a variable's value is never shown: a secret by name, or a `PROVIDER_<ID>_*` variable
 * whose suffix no preset knows (a misspelt `_CLIENT_SECRT` holds a secret all the same), or an
 * `APP_<ID>_*` one no app reads (`APP_WIKI_SECRT`). Not `APP_ENV` and the like, of no `<ID>`:
 * frameworks set those, and a value of theirs (`production`) would be masked wherever it is printed.
 */
export function isSecret(name: string): boolean {
  if (SECRET_NAME.test(name) && !NOT_SECRET.test(name)) return true;
  if (/^APP_[^_]+_./.test(name)) return !isAppSetting(name);
  if (!name.startsWith('PROVIDER_') || name === 'PROVIDER_TIMEOUT') return false;
  return !PROVIDER_VARIABLE.test(name);
}

/**
 * A URL's userinfo: everything from `//` to the last `@` before the path, query, fragment or the
 * next URL of a list, as URL parsers take it (a password may hold an `@` of its own: `:p@ss@host`).
 */
const USERINFO = /(\/\/)([^/?#\s,]*)@/g;

/** A value with the credentials of every URL in it masked: `redis://user:****@host`, `https://****@host`, `?password=****`. */
export function maskCredentials(value: string): string {
  return value
    .replace(USERINFO, (_all, slashes: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return colon < 0 ? `${slashes}${MASK}@` : `${slashes}${userinfo.slice(0, colon)}:${MASK}@`;
    })
    .replace(/([?&][^=&\s]*(?:pass|secret|token|key|auth)[^=&\s]*=)[^&\s]*/gi, `$1${MASK}`);
}

/** A percent-encoded password as a parser decodes it; as it is when it is no valid encoding. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Every secret value set, and its parts (comma entries, URL passwords), for scrubbing whatever is printed. */
export function secretValues(env: Env): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (isSecret(name)) {
      values.add(value);
      values.add(value.trim());
      for (const part of value.split(',')) values.add(part.trim());
    }
    for (const match of value.matchAll(USERINFO)) {
      const userinfo = match[2] ?? '';
      const colon = userinfo.indexOf(':');
      if (colon < 0) continue;
      const password = userinfo.slice(colon + 1);
      values.add(password);
      values.add(decoded(password));
    }
  }
  // Longest first, so a secret's part never leaves the rest of it behind; short ones would mask ordinary words.
  return [...values].filter((value) => value.length >= 6).sort((a, b) => b.length - a.length);
}

/** `text` with every secret value replaced by the mask: the last net under everything check-config prints. */
export function scrub(text: string, secrets: readonly string[]): string {
  let scrubbed = text;
  for (const secret of secrets) scrubbed = scrubbed.replaceAll(secret, MASK);
  return scrubbed;
}

/** A baseline of each mode, for the settings a mode asks for only when it is that mode. */
const BASELINES: readonly Env[] = [{}, { NODE_ENV: 'production', PUBLIC_URL: 'https://a.example' }];

/**
 * The settings portero knows, in the order it reads them: what it asks an environment for (each
 * mode's, and this one's, whose values may lead it to ask for more), then the `PROVIDER_<ID>_*`
 * variables set and those the problems name, then the apps' `APP_<ID>_*` variables.
 */
function settingNames(env: Env, inspection: ConfigInspection): string[] {
  const names = new Set<string>();
  for (const baseline of BASELINES) for (const name of inspectConfig(baseline).names) names.add(name);
  for (const name of inspection.names) names.add(name);
  const general = [...names].filter((name) => /^[A-Z][A-Z0-9_]*$/.test(name));
  const providers = new Set(Object.keys(env).filter((name) => name.startsWith('PROVIDER_') && !names.has(name)));
  for (const problem of inspection.problems) {
    for (const match of problem.matchAll(/(?<![A-Z0-9_<])PROVIDER_[A-Z0-9]+(?:_[A-Z0-9]+)+(?![A-Z0-9_])/g)) {
      if (!names.has(match[0])) providers.add(match[0]);
    }
  }
  // The first an app's problem names (`APP_WIKI_REDIRECT_URIS is missing`), not every one a message lists.
  const apps = new Set(appVariableNames(env));
  for (const problem of inspection.problems) {
    const first = /(?<![A-Z0-9_<])APP_[A-Z0-9]+(?:_[A-Z0-9]+)+(?![A-Z0-9_])/.exec(problem)?.[0];
    if (first && isAppSetting(first) && !names.has(first)) apps.add(first);
  }
  return [...general, ...[...providers].sort(), ...[...apps].sort()];
}

const escapeName = (name: string) => name.replace(/[^A-Z0-9_]/g, '');

/** The setting a problem names first (the longest at a tie), or undefined when it names none. */
function firstNamed(problem: string, names: readonly string[]): string | undefined {
  let best: { name: string; at: number } | undefined;
  for (const name of names) {
    const at = problem.search(new RegExp(`(?<![A-Z0-9_])${escapeName(name)}(?![A-Z0-9_])`));
    if (at >= 0 && (!best || at < best.at || (at === best.at && name.length > best.name.length))) best = { name, at };
  }
  return best?.name;
}

const MAX_VALUE = 60;

function shown(name: string, value: string | undefined): string {
  if (value === undefined) return '';
  if (value.trim() === '') return '(empty)';
  if (isSecret(name)) return MASK;
  const masked = maskCredentials(value.trim());
  return masked.length > MAX_VALUE ? `${masked.slice(0, MAX_VALUE - 1)}…` : masked;
}

/**
 * One row per setting, each with the problems that name it first, and the problems that name
 * none (`no provider is configured`).
 */
export function settingRows(env: Env, inspection: ConfigInspection): { rows: SettingRow[]; unattributed: string[] } {
  const names = settingNames(env, inspection);
  const byName = new Map<string, string[]>();
  const unattributed: string[] = [];
  for (const problem of inspection.problems) {
    const name = firstNamed(problem, names);
    if (name) byName.set(name, [...(byName.get(name) ?? []), problem]);
    else unattributed.push(problem);
  }
  const rows = names.map((name): SettingRow => {
    const value = env[name];
    const isSet = value !== undefined && value.trim() !== '';
    const problems = byName.get(name) ?? [];
    const status = problems.length > 0 ? (isSet ? 'wrong' : 'missing') : isSet ? 'set' : 'default';
    return { name, value: shown(name, value), status, problems };
  });
  return { rows, unattributed };
}
