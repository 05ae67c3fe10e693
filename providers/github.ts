import { pick } from './claims.js';
import type { JsonObject, Provider } from './types.js';

interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

const isGitHubEmail = (value: unknown): value is GitHubEmail =>
  typeof value === 'object' && value !== null && typeof (value as GitHubEmail).email === 'string';

/**
 * GitHub is OAuth 2.0, not OIDC: the profile comes from `GET /user`, and since `/user` shows only
 * a public email, the address is the primary verified one from `GET /user/emails` (scope `user:email`).
 * No verified primary email: the token carries no email rather than an unverified one.
 */
export const github = {
  type: 'github',
  displayName: 'GitHub',
  protocol: 'oauth2',
  endpoints: {
    authorization: 'https://github.com/login/oauth/authorize',
    token: 'https://github.com/login/oauth/access_token',
    userinfo: 'https://api.github.com/user',
  },
  scopes: ['read:user', 'user:email'],
  requiresClientSecret: true,
  async profile({ userinfo, fetchJson }) {
    const user: JsonObject | undefined = await userinfo();
    const subject = pick(user, 'id');
    if (!subject) throw new TypeError('GitHub /user response has no id');
    const emails = await fetchJson('https://api.github.com/user/emails');
    const primary = Array.isArray(emails)
      ? emails.filter(isGitHubEmail).find((entry) => entry.primary && entry.verified)
      : undefined;
    return {
      subject,
      email: primary?.email,
      emailVerified: primary ? true : undefined,
      name: pick(user, 'name'),
      preferredUsername: pick(user, 'login'),
      picture: pick(user, 'avatar_url'),
    };
  },
} as const satisfies Provider;
