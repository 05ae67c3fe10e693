import { readBackchannelUri, readUris } from './app-uris.js';
import type { Env } from './env.js';
import { misspeltWarning, nearestSetting } from './misspelled.js';
import type { EnvReader } from './reader.js';
import type { AppClientConfig, TokenConfig } from './types.js';

/** What every app reads, as `APP_<ID>_<SUFFIX>`. */
export const APP_SUFFIXES = [
  'SECRET',
  'REDIRECT_URIS',
  'POST_LOGOUT_REDIRECT_URIS',
  'BACKCHANNEL_LOGOUT_URI',
  'NAME',
  'OFFLINE_ACCESS',
  'RESOURCES',
] as const;

// Lazy id, so `APP_WIKI_POST_LOGOUT_REDIRECT_URIS` is app `WIKI` with `POST_LOGOUT_REDIRECT_URIS`,
// not `WIKI_POST_LOGOUT` with `REDIRECT_URIS`. Any id: the client id it makes is checked, by name.
const APP_VARIABLE = new RegExp(`^APP_(.+?)_(${APP_SUFFIXES.join('|')})$`);

/** As a provider's id: lower-case letters and digits, single hyphens between (`APP_MY_WIKI_*` is `my-wiki`). */
const CLIENT_ID = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** As COOKIE_SECRET and SESSION_KEY. */
const MIN_SECRET_LENGTH = 32;
/** As BRAND_NAME: a line of a page, not a paragraph. */
const MAX_NAME_LENGTH = 60;

type AppVariables = Map<string, string>;

/** The `APP_*` variables set, sorted by whose they are. */
interface AppGroups {
  /** By raw id (`MY_WIKI`): suffix → trimmed value. */
  readonly apps: Map<string, AppVariables>;
  /** Set under an app's prefix, yet no app setting (`APP_WIKI_REDIRECT_URI` beside `APP_WIKI_SECRET`): name → raw id. */
  readonly unknown: Map<string, string>;
  /** Under `APP_` but of no app: a platform's own (`APP_ENV`, Kubernetes' `APP_SERVICE_HOST`), or a misspelt app setting. */
  readonly strays: readonly string[];
}

const clientIdOf = (rawId: string) => rawId.toLowerCase().replaceAll('_', '-');

function groupByApp(env: Env): AppGroups {
  const apps = new Map<string, AppVariables>();
  const others: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('APP_') || value === undefined) continue;
    const match = APP_VARIABLE.exec(name);
    if (!match) {
      others.push(name);
      continue;
    }
    const [, rawId = '', suffix = ''] = match;
    const entry = apps.get(rawId) ?? new Map<string, string>();
    entry.set(suffix, value.trim());
    apps.set(rawId, entry);
  }
  const unknown = new Map<string, string>();
  const strays: string[] = [];
  for (const name of others) {
    // The longest app prefix it starts with: `APP_WIKI_FOO` is app WIKI's even where WIKI_F… is no app.
    const owner = [...apps.keys()].filter((rawId) => name.startsWith(`APP_${rawId}_`)).sort((a, b) => b.length - a.length)[0];
    if (owner === undefined) strays.push(name);
    else unknown.set(name, owner);
  }
  return { apps, unknown, strays };
}

/** The client ids the `APP_<ID>_*` variables set name, sorted, whether or not their apps' settings hold. */
export function configuredClientIds(env: Env): string[] {
  return [...new Set([...groupByApp(env).apps.keys()].map(clientIdOf))].sort();
}

/**
 * The `APP_*` variables that belong to an app, set or misspelt beside its settings, sorted: what
 * `npm run check-config` shows rows for. Not `APP_ENV` and the like, which no app reads.
 */
export function appVariableNames(env: Env): string[] {
  const { apps, unknown } = groupByApp(env);
  const set = [...apps].flatMap(([rawId, vars]) => [...vars.keys()].map((suffix) => `APP_${rawId}_${suffix}`));
  return [...set, ...unknown.keys()].sort();
}

/** Whether `name` is an app setting by its shape, `APP_<ID>_<SUFFIX>` with a suffix apps read. */
export const isAppSetting = (name: string) => APP_VARIABLE.test(name);

/**
 * `_SECRET`: the app proves itself with it at the token endpoint (client_secret_basic or _post; the
 * app is registered for nothing else, no client_secret_jwt, no HS256-signed tokens), so it must be
 * past guessing: at least MIN_SECRET_LENGTH characters, as COOKIE_SECRET and SESSION_KEY (RFC 7518
 * 3.2's 256 bits, were it ever an HMAC key). No `+` or `%` either: HTTP Basic
 * takes the secret form-encoded (RFC 6749 2.3.1) and the provider decodes it (`+` becoming a
 * space), but many clients send it as it is (Python requests' HTTPBasicAuth), so such a secret
 * would never match. Unset, the app is a public client; set empty, a problem. Messages name the
 * variable, never the value: they are logged.
 */
function readSecret(variable: string, raw: string | undefined, reader: EnvReader): string | undefined {
  if (raw === undefined) return undefined;
  // Set, yet empty: a template's line left unfilled, not a decision to make the app public.
  if (raw === '') reader.problem(`${variable} is empty: set the app's secret, or unset ${variable} for a public client`);
  if (!raw) return undefined;
  if (raw.length < MIN_SECRET_LENGTH)
    reader.problem(`${variable} must be at least ${MIN_SECRET_LENGTH} characters, like COOKIE_SECRET (try: openssl rand -hex 32)`);
  if (/[+%]/.test(raw))
    reader.problem(`${variable} must not hold + or %, which clients encode differently for HTTP Basic (try: openssl rand -hex 32)`);
  return raw;
}

/** `_NAME`: shown on portero's pages; plain text (escaped there), one line, as BRAND_NAME. */
function readName(variable: string, raw: string | undefined, clientId: string, reader: EnvReader): string {
  const name = raw || clientId;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused.
  if (/[\u0000-\u001f\u007f]/.test(name)) reader.problem(`${variable} must be one line of text, without control characters`);
  if (name.length > MAX_NAME_LENGTH) reader.problem(`${variable} must be at most ${MAX_NAME_LENGTH} characters, got ${name.length}`);
  return name;
}

function readBoolean(variable: string, raw: string | undefined, reader: EnvReader): boolean {
  if (raw === undefined || raw === '' || raw.toLowerCase() === 'false') return false;
  if (raw.toLowerCase() === 'true') return true;
  reader.problem(`${variable} must be true or false, got ${JSON.stringify(raw)}`);
  return false;
}

/** One app from its variables, each checked; undefined when its id makes no client id (after checking the rest too). */
function appFrom(rawId: string, vars: AppVariables, reader: EnvReader): AppClientConfig | undefined {
  const prefix = `APP_${rawId}_`;
  const clientId = clientIdOf(rawId);
  const validId = CLIENT_ID.test(clientId);
  if (!validId)
    reader.problem(`app id "${clientId}" (from ${prefix}*) must be letters and digits separated by single underscores, like APP_MY_WIKI_*`);
  if (!vars.get('REDIRECT_URIS'))
    reader.problem(
      `${prefix}REDIRECT_URIS is missing, yet other ${prefix}* variables are set: where may the app be sent back after sign-in?`,
    );
  const secret = readSecret(`${prefix}SECRET`, vars.get('SECRET'), reader);
  const redirectUris = readUris(`${prefix}REDIRECT_URIS`, vars.get('REDIRECT_URIS'), reader);
  const postLogoutRedirectUris = readUris(`${prefix}POST_LOGOUT_REDIRECT_URIS`, vars.get('POST_LOGOUT_REDIRECT_URIS'), reader);
  const backchannelLogoutUri = readBackchannelUri(`${prefix}BACKCHANNEL_LOGOUT_URI`, vars.get('BACKCHANNEL_LOGOUT_URI'), reader);
  const name = readName(`${prefix}NAME`, vars.get('NAME'), clientId, reader);
  const offlineAccess = readBoolean(`${prefix}OFFLINE_ACCESS`, vars.get('OFFLINE_ACCESS'), reader);
  const resources = readUris(`${prefix}RESOURCES`, vars.get('RESOURCES'), reader);
  if (!validId) return undefined;
  // Frozen: nothing may change an app after start-up.
  return Object.freeze({
    clientId,
    ...(secret ? { secret } : {}),
    redirectUris: Object.freeze(redirectUris),
    postLogoutRedirectUris: Object.freeze(postLogoutRedirectUris),
    ...(backchannelLogoutUri ? { backchannelLogoutUri } : {}),
    name,
    offlineAccess,
    resources: Object.freeze(resources),
  });
}

/** What the apps' tokens are told apart by, and who issues them: portero's own token settings. */
export interface AppIssuing {
  /** PUBLIC_URL: the OpenID Provider's issuer. */
  readonly publicUrl: string;
  readonly tokens: Pick<TokenConfig, 'issuer' | 'audience'>;
}

/**
 * With any app: the provider issues as PUBLIC_URL, and the one discovery document at
 * `/.well-known/openid-configuration` names one issuer for its tokens and portero's own, so
 * JWT_ISSUER may not differ. An app's tokens carry its client id as `aud`: one equal to
 * JWT_AUDIENCE would make them pass where portero's own token is expected.
 */
function checkIssuing(clientIds: readonly string[], issuing: AppIssuing, reader: EnvReader): void {
  const { publicUrl, tokens } = issuing;
  if (tokens.issuer !== publicUrl) {
    reader.problem(
      `JWT_ISSUER (${tokens.issuer}) must be PUBLIC_URL (${publicUrl}) when apps are registered (APP_<ID>_*): portero's OpenID Provider issues as PUBLIC_URL, and its discovery document names one issuer; unset JWT_ISSUER or make it PUBLIC_URL`,
    );
  }
  for (const clientId of clientIds) {
    if (clientId === tokens.audience) {
      reader.problem(
        `app ${clientId} has the client id JWT_AUDIENCE names: its tokens (aud ${clientId}) could not be told from portero's own; rename the app or JWT_AUDIENCE`,
      );
    }
  }
}

/** Two ids that make one client id (`APP_Wiki_*` and `APP_WIKI_*`): reported, and the client ids returned, for neither app to be registered. */
function checkUnique(rawIds: Iterable<string>, reader: EnvReader): Set<string> {
  const byClientId = new Map<string, string>();
  const duplicates = new Set<string>();
  for (const rawId of rawIds) {
    const clientId = clientIdOf(rawId);
    const other = byClientId.get(clientId);
    if (other === undefined) byClientId.set(clientId, rawId);
    else {
      reader.problem(`APP_${rawId}_* and APP_${other}_* both register the client id ${clientId}: give one app another id`);
      duplicates.add(clientId);
    }
  }
  return duplicates;
}

/** A misspelt app setting of no app (`APP_WIKI_REDIRECT_URI` alone), warned as misspelled.ts warns; a platform's `APP_*` is left alone. */
function strayWarnings(strays: readonly string[]): string[] {
  const warnings: string[] = [];
  for (const name of strays) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(name)) continue;
    const parts = name.slice('APP_'.length).split('_');
    // Every way to read it as APP_<ID>_<rest>, each id with every suffix.
    const candidates = parts
      .slice(1)
      .map((_, at) => parts.slice(0, at + 1).join('_'))
      .flatMap((rawId) => APP_SUFFIXES.map((suffix) => `APP_${rawId}_${suffix}`));
    const meant = nearestSetting(name, candidates);
    if (meant) warnings.push(misspeltWarning(name, meant));
  }
  return warnings;
}

/** The apps and what start-up warns about them without refusing. */
export interface ParsedApps {
  readonly apps: readonly AppClientConfig[];
  readonly warnings: readonly string[];
}

/**
 * Reads every `APP_<ID>_*` variable: the apps that sign in through portero's OpenID Provider.
 * Records one problem per thing wrong, all of them; a variable set beside an app's settings that
 * is none of them is a problem, as for a provider. An `APP_*` variable of no app is only warned
 * about, and only when it looks like a misspelt setting: platforms set `APP_*` of their own
 * (Kubernetes for a service named app, `APP_ENV` of frameworks), which must not stop a start.
 */
export function parseApps(env: Env, reader: EnvReader, issuing: AppIssuing): ParsedApps {
  const groups = groupByApp(env);
  const settings = (rawId: string) => APP_SUFFIXES.map((suffix) => `APP_${rawId}_${suffix}`).join(', ');
  const apps: AppClientConfig[] = [];
  for (const [rawId, vars] of groups.apps) {
    const before = reader.problems.length;
    for (const [name, owner] of groups.unknown) {
      if (owner === rawId) reader.problem(`${name} is not a setting of app ${clientIdOf(rawId)} (its settings: ${settings(rawId)})`);
    }
    const app = appFrom(rawId, vars, reader);
    // Registered only as written: an app with a wrong setting is left out, not registered with a fallback.
    if (app && reader.problems.length === before) apps.push(app);
  }
  const duplicates = checkUnique(groups.apps.keys(), reader);
  if (groups.apps.size > 0) checkIssuing([...new Set([...groups.apps.keys()].map(clientIdOf))], issuing, reader);
  const registered = apps.filter((app) => !duplicates.has(app.clientId));
  return { apps: Object.freeze(registered.sort((a, b) => a.clientId.localeCompare(b.clientId))), warnings: strayWarnings(groups.strays) };
}
