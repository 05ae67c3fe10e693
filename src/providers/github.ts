import { pick } from './claims.js';
import { profileRefused } from './errors.js';
import { ENDPOINT_VARIABLES, type EndpointSettings, readEndpoints } from './settings.js';
import { defineProvider } from './types.js';

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

/**
 * GitHub is OAuth 2.0, not OIDC: the profile comes from `GET /user`, and since `/user` shows only
 * a public email, the address is the primary verified one from `GET /user/emails` (scope `user:email`).
 * GitHub Enterprise: type `github` with its own `*_URL`s; `/user/emails` is read beside its `/user`.
 * No verified primary email (or no permission to read them): the token carries no email rather
 * than an unverified one.
 */
export const github = defineProvider<EndpointSettings>({
  type: 'github',
  displayName: 'GitHub',
  protocol: 'oauth2',
  scopes: ['read:user', 'user:email'],
  requiresClientSecret: true,
  // Anyone can make a github.com account.
  publicUsers: () => true,
  variables: ENDPOINT_VARIABLES,
  readSettings: (reader) => readEndpoints(reader, GITHUB_COM),
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
    return {
      subject,
      email: primary?.email,
      emailVerified: primary ? true : undefined,
      name: pick(user, 'name'),
      preferredUsername: pick(user, 'login'),
      picture: pick(user, 'avatar_url'),
    };
  },
});
