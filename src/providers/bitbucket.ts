import { asObject, pick } from './claims.js';
import { profileRefused } from './errors.js';
import { publicOAuth2Service } from './oauth2.js';
import { defineProvider, type ProfileSource } from './types.js';

const API = 'https://api.bitbucket.org/2.0';
const EMAILS = `${API}/user/emails`;

/** Pages of `/user/emails` read at most (10 addresses each by default): a primary one further on is not looked for. */
const EMAIL_PAGES = 5;

interface BitbucketEmail {
  email: string;
  is_primary?: unknown;
  is_confirmed?: unknown;
}

const isBitbucketEmail = (value: unknown): value is BitbucketEmail => {
  const email = asObject(value)?.email;
  return typeof email === 'string' && email !== '';
};

/** Bitbucket's `next` link, when it is another page of the same list: the access token goes nowhere else. */
function nextPage(next: unknown): string | undefined {
  if (typeof next !== 'string' || !URL.canParse(next)) return undefined;
  const url = new URL(next);
  return url.origin + url.pathname === EMAILS ? next : undefined;
}

/**
 * The primary address of the paginated `GET /user/emails`
 * (https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-emails-get). Optional:
 * without the `email` scope Bitbucket answers 403, and the user signs in without an email.
 */
async function primaryEmail(source: ProfileSource): Promise<BitbucketEmail | undefined> {
  let url: string | undefined = EMAILS;
  for (let page = 0; url !== undefined && page < EMAIL_PAGES; page++) {
    const list = asObject(await source.fetchJson(url, { optional: true }));
    const values: unknown[] = Array.isArray(list?.values) ? list.values : [];
    const primary = values.filter(isBitbucketEmail).find((entry) => entry.is_primary === true);
    if (primary) return primary;
    url = nextPage(list?.next);
  }
  return undefined;
}

/**
 * Bitbucket Cloud is OAuth 2.0, not OpenID: the profile is `GET /2.0/user`
 * (https://developer.atlassian.com/cloud/bitbucket/rest/api-group-users/#api-user-get), the email
 * the primary one of `GET /2.0/user/emails`, verified only when Bitbucket says it is confirmed.
 *
 * The subject is `account_id`, not the Bitbucket `uuid` (`{…}` in braces): Atlassian's GDPR notice
 * calls the account id "the primary key for interacting with users", "a stable reference for users
 * for the future", the one to store (https://developer.atlassian.com/cloud/bitbucket/bitbucket-api-changes-gdpr/);
 * Auth.js uses it too. No account id, no sign-in, rather than a subject of another kind.
 * `username` left the API then too; the human-readable `nickname` (not unique) is the user name.
 */
export const bitbucket = defineProvider({
  type: 'bitbucket',
  displayName: 'Bitbucket',
  ...publicOAuth2Service,
  scopes: ['account', 'email'],
  // Bitbucket's guide exchanges the code with the consumer's key and secret as HTTP Basic
  // (`curl -u "client_id:secret"`, https://developer.atlassian.com/cloud/bitbucket/oauth-2/).
  tokenAuthMethod: 'client_secret_basic',
  server: () => ({
    kind: 'endpoints',
    endpoints: {
      authorization: 'https://bitbucket.org/site/oauth2/authorize',
      token: 'https://bitbucket.org/site/oauth2/access_token',
      userinfo: `${API}/user`,
    },
  }),
  async profile(source) {
    const user = await source.userinfo();
    const subject = pick(user, 'account_id');
    if (!subject) throw profileRefused('Bitbucket /2.0/user response has no account_id');
    const primary = await primaryEmail(source);
    const avatar = asObject(asObject(user?.links)?.avatar);
    return {
      subject,
      email: primary?.email,
      emailVerified: primary ? primary.is_confirmed === true : undefined,
      name: pick(user, 'display_name'),
      preferredUsername: pick(user, 'nickname'),
      picture: pick(avatar, 'href'),
    };
  },
});
