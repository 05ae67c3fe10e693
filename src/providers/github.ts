import { lowerAscii } from '../shared/email.js';
import { pick } from './claims.js';
import { accountRefused, profileRefused } from './errors.js';
import { ENDPOINT_VARIABLES, type EndpointSettings, providerPrefix, readEndpoints } from './settings.js';
import { defineProvider, type ProfileSource } from './types.js';

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

/** What GitHub says the user is a member of: `org` for each organisation, `org/team` for each team. */
async function memberships(source: ProfileSource<GitHubSettings>, teams: boolean): Promise<Set<string> | undefined> {
  const api = source.settings.userinfoUrl.replace(/\/+$/, '');
  const orgs = await source.fetchJson(`${api}/orgs?per_page=100`, { optional: true });
  if (!Array.isArray(orgs)) return undefined;
  const found = new Set(
    orgs
      .map((org) => pick(org as Record<string, unknown>, 'login'))
      .filter((login) => login !== undefined)
      .map(lowerAscii),
  );
  if (!teams) return found;
  const list = await source.fetchJson(`${api}/teams?per_page=100`, { optional: true });
  for (const team of Array.isArray(list) ? list : []) {
    const org = pick((team as { organization?: Record<string, unknown> }).organization, 'login');
    const slug = pick(team as Record<string, unknown>, 'slug');
    if (org && slug) found.add(lowerAscii(`${org}/${slug}`));
  }
  return found;
}

/**
 * GitHub is OAuth 2.0, not OIDC: the profile comes from `GET /user`, and since `/user` shows only
 * a public email, the address is the primary verified one from `GET /user/emails` (scope `user:email`).
 * GitHub Enterprise: type `github` with its own `*_URL`s; `/user/emails` is read beside its `/user`.
 * No verified primary email (or no permission to read them): the token carries no email rather
 * than an unverified one. With `_ALLOWED_ORGS` it asks `read:org` too and lets in members of one
 * of those organisations or teams only (`/user/orgs`, `/user/teams`).
 */
export const github = defineProvider<GitHubSettings>({
  type: 'github',
  displayName: 'GitHub',
  protocol: 'oauth2',
  scopes: SCOPES,
  scopesFor: (settings) => (settings.allowedOrgs ? [...SCOPES, 'read:org'] : SCOPES),
  requiresClientSecret: true,
  // Anyone can make a github.com account; an organisation rule says who of them.
  publicUsers: (settings) => settings.allowedOrgs === undefined,
  accessVariables: ['ALLOWED_ORGS'],
  variables: [...ENDPOINT_VARIABLES, 'ALLOWED_ORGS'],
  readSettings(reader) {
    const allowedOrgs = readOrgs(reader.value('ALLOWED_ORGS'), (message) => reader.problem(message), `${reader.prefix}ALLOWED_ORGS`);
    return { ...readEndpoints(reader, GITHUB_COM), ...(allowedOrgs ? { allowedOrgs } : {}) };
  },
  server: (settings) => ({
    kind: 'endpoints',
    endpoints: { authorization: settings.authorizationUrl, token: settings.tokenUrl, userinfo: settings.userinfoUrl },
  }),
  async profile(source) {
    const user = await source.userinfo();
    const subject = pick(user, 'id');
    if (!subject) throw profileRefused('GitHub /user response has no id');
    // Beside /user, so GitHub Enterprise (own USERINFO_URL) never sends its token to api.github.com.
    // Optional: a GitHub App without the "Email addresses" permission, or scopes without
    // `user:email`, gets 403/404 here; the user signs in without an email rather than not at all.
    const emails = await source.fetchJson(`${source.settings.userinfoUrl.replace(/\/+$/, '')}/emails`, { optional: true });
    const primary = Array.isArray(emails) ? emails.filter(isGitHubEmail).find((entry) => entry.primary && entry.verified) : undefined;
    const login = pick(user, 'login');
    const { allowedOrgs } = source.settings;
    if (allowedOrgs) {
      const member = await memberships(
        source,
        allowedOrgs.some((entry) => entry.includes('/')),
      );
      const rule = `${providerPrefix(source.settings.id)}ALLOWED_ORGS`;
      if (!member) throw accountRefused(rule, 'memberships not readable (scope read:org?)', login);
      if (!allowedOrgs.some((entry) => member.has(entry))) throw accountRefused(rule, 'in no allowed org', login);
    }
    return {
      subject,
      email: primary?.email,
      emailVerified: primary ? true : undefined,
      name: pick(user, 'name'),
      preferredUsername: login,
      picture: pick(user, 'avatar_url'),
    };
  },
});
