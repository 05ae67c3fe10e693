import { openIdConnect, standardOidcProfile } from './oidc.js';
import { ISSUER_VARIABLES, type IssuerSettings, readIssuer } from './settings.js';
import { defineProvider, type JsonObject } from './types.js';

const TWITCH_ISSUER = 'https://id.twitch.tv/oauth2';

/**
 * The claims Twitch sends only when the `claims` parameter asks for them (OIDC Core 5.5), in the ID
 * token and in userinfo alike (dev.twitch.tv/docs/authentication/getting-tokens-oidc, Requesting
 * claims); `email` and `email_verified` need the `user:read:email` scope besides.
 */
const ASKED = { email: null, email_verified: null, preferred_username: null, picture: null };
const CLAIMS = JSON.stringify({ id_token: ASKED, userinfo: ASKED });

/** Twitch's token response lists `scope` as a JSON array, not RFC 6749's space-separated string. */
function scopeAsString(body: JsonObject): JsonObject {
  if (!Array.isArray(body.scope)) return body;
  return { ...body, scope: body.scope.filter((scope): scope is string => typeof scope === 'string').join(' ') };
}

/**
 * Twitch's OpenID Connect. Its discovery lists only the form body for the client secret; it has no
 * `name` claim, its display name being `preferred_username`.
 */
export const twitch = defineProvider<IssuerSettings>({
  ...openIdConnect,
  type: 'twitch',
  displayName: 'Twitch',
  scopes: ['openid', 'user:read:email'],
  requiresClientSecret: true,
  variables: ISSUER_VARIABLES,
  // Anyone can open a Twitch account.
  publicUsers: () => true,
  tokenAuthMethod: 'client_secret_post',
  readSettings: (reader) => readIssuer(reader, TWITCH_ISSUER),
  authorizationParams: () => ({ claims: CLAIMS }),
  conformTokenResponse: scopeAsString,
  async profile(source) {
    const profile = await standardOidcProfile(source);
    return profile.name === undefined && profile.preferredUsername ? { ...profile, name: profile.preferredUsername } : profile;
  },
});
