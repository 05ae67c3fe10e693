import { SignJWT } from 'jose';
import { profileFromStandardClaims } from './claims.js';
import { profileRefused } from './errors.js';
import { openIdConnect } from './oidc.js';
import { type CommonSettings, defineProvider, type JsonObject, type ProviderSettings, type SettingsReader } from './types.js';

const APPLE_ISSUER = 'https://appleid.apple.com';

/** Seconds a client secret is good for: made for one token request, so minutes, not Apple's six months' maximum. */
const CLIENT_SECRET_LIFETIME = 300;

/** The longest `user` form field believed: a name and an address are a few hundred bytes. */
const MAX_USER_FIELD = 4096;

interface AppleSettings {
  /** `PROVIDER_<ID>_TEAM_ID`: the Apple developer team the key belongs to, the client secret's `iss`. */
  readonly teamId: string;
}

/** The team id (ten upper-case letters and digits), and a `.p8` key with its id: what Apple's client secret is made from. */
function readAppleSettings(reader: SettingsReader, common: CommonSettings): AppleSettings {
  const { prefix } = reader;
  const teamId = reader.value('TEAM_ID');
  if (!teamId) reader.problem(`${prefix}TEAM_ID is required for Apple (your team's id, at the top of developer.apple.com/account)`);
  else if (!/^[A-Z0-9]{10}$/.test(teamId))
    reader.problem(`${prefix}TEAM_ID must be ten upper-case letters and digits, got ${JSON.stringify(teamId)}`);
  if (common.clientSecret)
    reader.problem(
      `${prefix}CLIENT_SECRET is not a setting of Apple: its client secret is made from ${prefix}PRIVATE_KEY_FILE at each sign-in`,
    );
  if (!common.privateKey) reader.problem(`${prefix}PRIVATE_KEY_FILE is required for Apple (the .p8 key of Sign in with Apple)`);
  else if (common.privateKey.alg !== 'ES256') reader.problem(`${prefix}PRIVATE_KEY_FILE must be Apple's .p8 key (EC P-256)`);
  if (common.privateKey && !common.privateKey.id) reader.problem(`${prefix}KEY_ID is required for Apple (the id of the .p8 key)`);
  return { teamId: teamId ?? '' };
}

/**
 * Apple's client secret: an ES256 JWT from the team, about the Services ID, for Apple, signed with
 * the `.p8` key (Apple's "Creating a client secret"). Made afresh for each token request.
 */
async function clientSecret(settings: ProviderSettings<AppleSettings>): Promise<string> {
  const key = settings.privateKey;
  if (!key?.id) throw new TypeError('apple: settings without the key the configuration requires');
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: key.id })
    .setIssuer(settings.teamId)
    .setSubject(settings.clientId)
    .setAudience(APPLE_ISSUER)
    .setIssuedAt()
    .setExpirationTime(`${CLIENT_SECRET_LIFETIME}s`)
    .sign(key.key);
}

/**
 * The name Apple posts in the `user` form field, on the first sign-in only. The field is not
 * signed, so only the name is taken from it (a display name, the browser could have typed it), never the email.
 */
function nameFromUserField(raw: string | undefined): string | undefined {
  if (!raw || raw.length > MAX_USER_FIELD) return undefined;
  let user: unknown;
  try {
    user = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const name = (user as { name?: unknown } | null)?.name as JsonObject | undefined;
  const parts = [name?.firstName, name?.lastName].filter((part): part is string => typeof part === 'string' && part.trim() !== '');
  return parts.length > 0 ? parts.map((part) => part.trim()).join(' ') : undefined;
}

/**
 * Sign in with Apple. OpenID Connect with three quirks: asked for a name or an email, Apple
 * answers only by `form_post`, from its own site (so the flow cookie is SameSite=None; Secure);
 * the client secret is a short-lived JWT signed with the team's `.p8` key; and the user's name
 * comes once, in the first sign-in's `user` form field, never in the ID token. The email is the
 * ID token's (often a private relay address), verified when Apple says `email_verified`.
 */
export const apple = defineProvider<AppleSettings>({
  ...openIdConnect,
  type: 'apple',
  displayName: 'Apple',
  scopes: ['openid', 'name', 'email'],
  requiresClientSecret: false,
  variables: ['TEAM_ID'],
  // Anyone with an Apple ID.
  publicUsers: () => true,
  readSettings: readAppleSettings,
  server: () => ({ kind: 'discovery', issuer: APPLE_ISSUER }),
  responseMode: 'form_post',
  clientAuthentication: (settings) => async (_as, client, body) => {
    body.set('client_id', client.client_id);
    body.set('client_secret', await clientSecret(settings));
  },
  callbackParams: ['user'],
  async profile({ idTokenClaims, callbackParams }) {
    // Apple has no userinfo endpoint: everything but the name is in the validated ID token.
    const profile = profileFromStandardClaims([idTokenClaims]);
    if (!profile) throw profileRefused('Apple ID token without sub');
    const name = nameFromUserField(callbackParams.user);
    return name ? { ...profile, name } : profile;
  },
});
