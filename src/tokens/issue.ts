import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Profile } from '../../providers/index.js';
import type { Clock } from '../clock.js';
import type { PorteroClaims } from './claims.js';
import type { KeySet } from './keys.js';

export interface TokenSettings {
  readonly issuer: string;
  readonly audience?: string;
  /** Seconds. */
  readonly ttl: number;
}

export interface IssuedToken {
  readonly token: string;
  readonly claims: PorteroClaims;
}

const randomId = () => randomBytes(16).toString('base64url');

/** Signs a new session token for a user who just signed in with provider `providerId`. */
export async function issueToken(
  keys: KeySet,
  settings: TokenSettings,
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
  };
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: keys.signing.alg, kid: keys.signing.kid, typ: 'JWT' })
    .sign(keys.signing.key);
  return { token, claims };
}
