import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../clock.js';
import type { TokenConfig } from '../config/types.js';
import { PorteroError, PROFILE_UNAVAILABLE } from '../errors.js';
import type { Profile } from '../providers/index.js';
import type { PorteroClaims } from '../shared/claims.js';
import type { KeySet } from './keys.js';

export interface IssuedToken {
  readonly token: string;
  readonly claims: PorteroClaims;
}

/** Characters of a token, leaving room in a 4096-byte cookie for its name and attributes. */
export const MAX_TOKEN_LENGTH = 3800;

const randomId = () => randomBytes(16).toString('base64url');

/** Signs a new session token for a user who just signed in with provider `providerId`. */
export async function issueToken(
  keys: KeySet,
  settings: Pick<TokenConfig, 'issuer' | 'audience' | 'ttl'>,
  clock: Clock,
  providerId: string,
  profile: Profile,
): Promise<IssuedToken> {
  const iat = Math.floor(clock.now() / 1000);
  const claims: PorteroClaims = {
    iss: settings.issuer,
    ...(settings.audience ? { aud: settings.audience } : {}),
    sub: `${providerId}:${profile.subject}`,
    iat,
    exp: iat + settings.ttl,
    jti: randomId(),
    sid: randomId(),
    provider: providerId,
    ...(profile.email !== undefined ? { email: profile.email, email_verified: profile.emailVerified === true } : {}),
    ...(profile.name !== undefined ? { name: profile.name } : {}),
    ...(profile.preferredUsername !== undefined ? { preferred_username: profile.preferredUsername } : {}),
    ...(profile.picture !== undefined ? { picture: profile.picture } : {}),
    ...(profile.groups !== undefined && profile.groups.length > 0 ? { groups: [...profile.groups] } : {}),
  };
  // Browsers silently drop a cookie over about 4 KB, and the user would loop between app and
  // sign-in. A provider's long picture URL or name gives way first; beyond that, refuse clearly.
  for (const dropped of [[], ['picture'], ['picture', 'name']] as const) {
    const kept: PorteroClaims = { ...claims };
    for (const name of dropped) delete kept[name];
    const token = await new SignJWT(kept)
      .setProtectedHeader({ alg: keys.signing.alg, kid: keys.signing.kid, typ: 'JWT' })
      .sign(keys.signing.key);
    if (token.length <= MAX_TOKEN_LENGTH) return { token, claims: kept };
  }
  throw new PorteroError(PROFILE_UNAVAILABLE, 'the profile is too large to fit in a cookie', {
    detail: { provider: providerId, reason: 'token too large' },
  });
}
