import { lowerAscii } from '../shared/email.js';
import { pick } from './claims.js';
import { accountRefused, profileRefused } from './errors.js';
import { ENDPOINT_VARIABLES, type EndpointSettings, providerPrefix, readEndpoints } from './settings.js';
import { defineProvider, type JsonObject, type ProfileSource, type ProviderSettings, type SettingsReader } from './types.js';

interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

const isGitHubEmail = (value: unknown): value is GitHubEmail =>
  typeof value === 'object' && value !== null && typeof (value as GitHubEmail).email === 'string';

const GITHUB_COM: EndpointSettings = {
  authorizationUrl: 'https://github.com/login/oauth/authorize',
  tokenUrl: 'https://github.com/login/oauth/access_token',
  userinfoUrl: 'https://api.github.com/user',
};

/** github.com's hosts: an endpoint on one of them signs in github.com's accounts, the general public's. */
const GITHUB_COM_HOSTS = new Set(['github.com', 'www.github.com', 'api.github.com']);

const onGitHubCom = (url: string) => URL.canParse(url) && GITHUB_COM_HOSTS.has(new URL(url).hostname.replace(/\.$/, ''));

/**
 * `PROVIDER_<ID>_URL`, a GitHub Enterprise Server's base URL (`https://github.example.com`): its web
 * pages at `<URL>/login/oauth/...`, its REST API at `<URL>/api/v3`, as GitHub documents for GHES.
 * Or, as before, the three endpoints one by one (github.com's by default); both is a problem, since
 * one of them would be silently ignored.
 */
function readServer(reader: SettingsReader): EndpointSettings {
  if (reader.value('URL') === undefined) return readEndpoints(reader, GITHUB_COM);
  const explicit = ENDPOINT_VARIABLES.filter((suffix) => reader.value(suffix) !== undefined).map((suffix) => `${reader.prefix}${suffix}`);
  if (explicit.length > 0)
    reader.problem(
      `${reader.prefix}URL and ${explicit.join(', ')} are both set: set ${reader.prefix}URL alone (GitHub Enterprise Server), or the endpoints alone`,
    );
  const base = reader.url('URL')?.replace(/\/+$/, '');
  if (base === undefined) return { authorizationUrl: '', tokenUrl: '', userinfoUrl: '' };
  const url = new URL(base);
  if (url.search || url.hash) reader.problem(`${reader.prefix}URL must be the server's base URL, without ? or #: ${JSON.stringify(base)}`);
  if (onGitHubCom(base)) reader.problem(`${reader.prefix}URL is for GitHub Enterprise Server; for github.com leave it unset`);
  if (/\/api(\/v3)?$/.test(url.pathname))
    reader.problem(`${reader.prefix}URL is the server's web address (https://github.example.com), not its API (${JSON.stringify(base)})`);
  return {
    authorizationUrl: `${base}/login/oauth/authorize`,
    tokenUrl: `${base}/login/oauth/access_token`,
    userinfoUrl: `${base}/api/v3/user`,
  };
}

const SCOPES = ['read:user', 'user:email'];

interface GitHubSettings extends EndpointSettings {
  /** `PROVIDER_<ID>_ALLOWED_ORGS`: `org` or `org/team` (a team's slug), lower-cased A to Z. */
  readonly allowedOrgs?: readonly string[];
}

/** `acme,acme/platform`: organisations, or teams of one; anything else is a problem. */
function readOrgs(raw: string | undefined, problem: (message: string) => void, variable: string): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  for (const entry of entries) {
    if (!/^[A-Za-z0-9-]+(\/[A-Za-z0-9_.-]+)?$/.test(entry))
      problem(`${variable} entry ${JSON.stringify(entry)} is not an organisation or org/team`);
  }
  return entries.map(lowerAscii);
}

/**
 * `/user/<resource>` of the instance the user signed in at: beside its `/user`, so a GitHub
 * Enterprise Server's token never goes to api.github.com.
 */
const besideUser = (settings: EndpointSettings, resource: string) => `${settings.userinfoUrl.replace(/\/+$/, '')}/${resource}`;

/** GitHub lists at most 100 a page; beyond 10 pages (1000 organisations) portero stops asking. */
const PER_PAGE = 100;
const MAX_PAGES = 10;

/**
 * Every entry of a paginated list of the user's (`/user/orgs`, `/user/teams`), page by page until
 * a short one: an organisation on page 2 counts as much as one on page 1. Undefined when GitHub
 * will not list them (403 or 404: no `read:org`), or the list is longer than portero reads.
 */
async function listAll(source: ProfileSource<GitHubSettings>, list: 'orgs' | 'teams'): Promise<JsonObject[] | undefined> {
  const entries: JsonObject[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const answer = await source.fetchJson(besideUser(source.settings, `${list}?per_page=${PER_PAGE}&page=${page}`), { optional: true });
    if (!Array.isArray(answer)) return undefined;
    entries.push(...answer.filter((entry): entry is JsonObject => typeof entry === 'object' && entry !== null));
    if (answer.length < PER_PAGE) return entries;
  }
  return undefined;
}

/** The logins of the user's organisations, as GitHub spells them; undefined when GitHub does not say. */
async function organisations(source: ProfileSource<GitHubSettings>): Promise<string[] | undefined> {
  const orgs = await listAll(source, 'orgs');
  return orgs?.map((org) => pick(org, 'login')).filter((login) => login !== undefined);
}

/** Whether the user is in one of `allowed` (`org`, `org/team`, lower-cased), by their organisations and, when asked for, teams. */
async function isMember(source: ProfileSource<GitHubSettings>, allowed: readonly string[], orgs: readonly string[]): Promise<boolean> {
  const found = new Set(orgs.map(lowerAscii));
  if (allowed.some((entry) => entry.includes('/'))) {
    for (const team of (await listAll(source, 'teams')) ?? []) {
      const org = pick(team.organization as JsonObject | undefined, 'login');
      const slug = pick(team, 'slug');
      if (org && slug) found.add(lowerAscii(`${org}/${slug}`));
    }
  }
  return allowed.some((entry) => found.has(entry));
}

/** Whether `PROVIDER_<ID>_CLAIMS` asks for the user's organisations (the `orgs` claim). */
const wantsOrgs = (settings: ProviderSettings<GitHubSettings>) => settings.claims?.includes('orgs') === true;

/**
 * GitHub is OAuth 2.0, not OIDC: the profile comes from `GET /user`, and since `/user` shows only
 * a public email, the address is the primary verified one from `GET /user/emails` (scope `user:email`).
 * GitHub Enterprise Server: type `github` with `_URL` (or its own three endpoints); everything is
 * read beside its `/user`, and its users are the company's, so it is no public provider.
 * No verified primary email (or no permission to read them): the token carries no email rather
 * than an unverified one, nor a verified secondary one the user did not make primary. With
 * `_ALLOWED_ORGS` it asks `read:org` too and lets in members of one of those organisations or
 * teams only (`/user/orgs`, `/user/teams`). `_CLAIMS=login,orgs` copies the login name (any field
 * of `/user`, as userinfo) and the organisations (asking `read:org`).
 */
export const github = defineProvider<GitHubSettings>({
  type: 'github',
  displayName: 'GitHub',
  protocol: 'oauth2',
  scopes: SCOPES,
  scopesFor: (settings) => (settings.allowedOrgs || wantsOrgs(settings) ? [...SCOPES, 'read:org'] : SCOPES),
  requiresClientSecret: true,
  // Anyone can make a github.com account; an organisation rule says who of them. An endpoint left on
  // github.com (a mix of the two) counts as github.com: the fail-closed reading.
  publicUsers: (settings) =>
    settings.allowedOrgs === undefined && [settings.authorizationUrl, settings.tokenUrl, settings.userinfoUrl].some(onGitHubCom),
  accessVariables: ['ALLOWED_ORGS'],
  variables: ['URL', ...ENDPOINT_VARIABLES, 'ALLOWED_ORGS'],
  readSettings(reader) {
    const allowedOrgs = readOrgs(reader.value('ALLOWED_ORGS'), (message) => reader.problem(message), `${reader.prefix}ALLOWED_ORGS`);
    return { ...readServer(reader), ...(allowedOrgs ? { allowedOrgs } : {}) };
  },
  server: (settings) => ({
    kind: 'endpoints',
    endpoints: { authorization: settings.authorizationUrl, token: settings.tokenUrl, userinfo: settings.userinfoUrl },
  }),
  async profile(source) {
    const user = await source.userinfo();
    const subject = pick(user, 'id');
    if (!subject) throw profileRefused('GitHub /user response has no id');
    // Optional: a GitHub App without the "Email addresses" permission, or scopes without
    // `user:email`, gets 403/404 here; the user signs in without an email rather than not at all.
    const emails = await source.fetchJson(besideUser(source.settings, 'emails'), { optional: true });
    const primary = Array.isArray(emails) ? emails.filter(isGitHubEmail).find((entry) => entry.primary && entry.verified) : undefined;
    const login = pick(user, 'login');
    const { allowedOrgs } = source.settings;
    const orgs = allowedOrgs || wantsOrgs(source.settings) ? await organisations(source) : undefined;
    if (allowedOrgs) {
      const rule = `${providerPrefix(source.settings.id)}ALLOWED_ORGS`;
      if (!orgs) throw accountRefused(rule, 'memberships not readable (scope read:org?)', login);
      if (!(await isMember(source, allowedOrgs, orgs))) throw accountRefused(rule, 'in no allowed org', login);
    }
    return {
      subject,
      email: primary?.email,
      emailVerified: primary ? true : undefined,
      name: pick(user, 'name'),
      preferredUsername: login,
      picture: pick(user, 'avatar_url'),
      // `login` and the rest of /user reach PROVIDER_<ID>_CLAIMS as userinfo; the organisations only from here.
      ...(orgs && wantsOrgs(source.settings) ? { extraClaims: { orgs } } : {}),
    };
  },
});
