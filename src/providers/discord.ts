import { pick } from './claims.js';
import { profileRefused } from './errors.js';
import { publicOAuth2Service } from './oauth2.js';
import { defineProvider, type JsonObject } from './types.js';

/**
 * The user's avatar on Discord's CDN, from their id and avatar hash
 * (https://discord.com/developers/docs/reference#image-formatting); none without a hash. Both are
 * checked to be what Discord documents (a snowflake, a hex hash, `a_` first when animated), so the
 * provider's data cannot shape the URL into another path.
 */
function avatarOf(user: JsonObject | undefined, id: string): string | undefined {
  const hash = pick(user, 'avatar');
  if (!hash || !/^\d+$/.test(id) || !/^(a_)?[0-9a-f]+$/.test(hash)) return undefined;
  return `https://cdn.discordapp.com/avatars/${id}/${hash}.png`;
}

/**
 * Discord's user name: unique since its 2023 migration (`discriminator` "0"); before it, only the
 * `name#1234` pair told two users apart.
 */
function handleOf(user: JsonObject | undefined): string | undefined {
  const username = pick(user, 'username');
  const discriminator = pick(user, 'discriminator');
  return username && discriminator && discriminator !== '0' ? `${username}#${discriminator}` : username;
}

/**
 * Discord is OAuth 2.0, not OpenID: the profile is `GET /users/@me`
 * (https://discord.com/developers/docs/resources/user#get-current-user). The subject is the
 * snowflake `id`, a string (an integer past 2^53 would not survive JSON numbers). `email` comes with
 * the `email` scope and `verified` says whether Discord confirmed it. The name is `global_name`,
 * the display name, else the user name, as Discord shows it.
 */
export const discord = defineProvider({
  type: 'discord',
  displayName: 'Discord',
  ...publicOAuth2Service,
  scopes: ['identify', 'email'],
  // Discord takes HTTP Basic or the form body, and its token exchange example uses Basic
  // (https://discord.com/developers/docs/topics/oauth2#authorization-code-grant).
  tokenAuthMethod: 'client_secret_basic',
  server: () => ({
    kind: 'endpoints',
    endpoints: {
      authorization: 'https://discord.com/oauth2/authorize',
      token: 'https://discord.com/api/oauth2/token',
      userinfo: 'https://discord.com/api/users/@me',
    },
  }),
  async profile(source) {
    const user = await source.userinfo();
    const subject = pick(user, 'id');
    if (!subject) throw profileRefused('Discord /users/@me response has no id');
    const email = pick(user, 'email');
    return {
      subject,
      email,
      emailVerified: email === undefined ? undefined : user?.verified === true,
      name: pick(user, 'global_name') ?? pick(user, 'username'),
      preferredUsername: handleOf(user),
      picture: avatarOf(user, subject),
    };
  },
});
