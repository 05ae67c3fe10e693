import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { TokenConfig } from '../config/types.js';
import { PorteroError, PROFILE_UNAVAILABLE } from '../errors.js';
import type { Profile } from '../providers/index.js';
import type { PorteroClaims, SessionClaims } from '../shared/claims.js';
import { lowerAscii } from '../shared/email.js';
import { RESERVED_CLAIMS } from '../shared/token-shape.js';
import type { KeySet } from './keys.js';
import { signJwt } from './sign.js';

export interface IssuedToken {
  readonly token: string;
  readonly claims: PorteroClaims;
}

/** Characters of a token, leaving room in a 4096-byte cookie for its name and attributes. */
export const MAX_TOKEN_LENGTH = 3800;

const randomId = () => randomBytes(16).toString('base64url');

type IssueSettings = Pick<TokenConfig, 'issuer' | 'audience' | 'ttl'>;

/**
 * The claims each token has its own of: `iss`, `aud`, `iat` now, `exp` JWT_TTL later but never past
 * `notAfter` (seconds: the session's end), and a new `jti`.
 */
function ownClaims(settings: IssueSettings, clock: Clock, notAfter?: number) {
  const iat = Math.floor(clock.now() / 1000);
  return {
    iss: settings.issuer,
    ...(settings.audience ? { aud: settings.audience } : {}),
    iat,
    exp: Math.min(iat + settings.ttl, notAfter ?? Number.POSITIVE_INFINITY),
    jti: randomId(),
  };
}

const sign = (keys: KeySet, claims: PorteroClaims) =>
  signJwt({ alg: keys.signing.alg, kid: keys.signing.kid, typ: 'JWT' }, claims, keys.signing.key);

/** A new token of a living session: its claims as made at sign-in, a new `iat`, `exp` and `jti`. */
export function renewToken(keys: KeySet, settings: IssueSettings, clock: Clock, claims: SessionClaims, notAfter: number): IssuedToken {
  // As made and checked at sign-in (`issueToken`); only the token's own claims are new.
  const renewed = { ...claims, ...ownClaims(settings, clock, notAfter) } as PorteroClaims;
  return { token: sign(keys, renewed), claims: renewed };
}

/**
 * Signs a new session token for a user who just signed in with provider `providerId`, valid
 * JWT_TTL but never past `notAfter` (seconds since the epoch).
 */
export async function issueToken(
  keys: KeySet,
  settings: IssueSettings,
  clock: Clock,
  providerId: string,
  profile: Profile,
  notAfter?: number,
): Promise<IssuedToken> {
  // Never one of portero's own names, nor one a library reads as about the token: start-up refuses
  // them in PROVIDER_<ID>_CLAIMS (src/config/claims.ts), and here nothing else can bring one in.
  const extras = Object.fromEntries(Object.entries(profile.extraClaims ?? {}).filter(([name]) => !RESERVED_CLAIMS.has(lowerAscii(name))));
  const claims: PorteroClaims = {
    ...extras,
    ...ownClaims(settings, clock, notAfter),
    sub: `${providerId}:${profile.subject}`,
    sid: randomId(),
    provider: providerId,
    ...(profile.email !== undefined ? { email: profile.email, email_verified: profile.emailVerified === true } : {}),
    ...(profile.name !== undefined ? { name: profile.name } : {}),
    ...(profile.preferredUsername !== undefined ? { preferred_username: profile.preferredUsername } : {}),
    ...(profile.picture !== undefined ? { picture: profile.picture } : {}),
    ...(profile.groups !== undefined && profile.groups.length > 0 ? { groups: [...profile.groups] } : {}),
  };
  // Browsers silently drop a cookie over about 4 KB, and the user would loop between app and
  // sign-in. A provider's long picture URL or name gives way first, then the extra claims (which
  // src/flow/extra-claims.ts bounds already); beyond that, refuse clearly.
  for (const dropped of [[], ['picture'], ['picture', 'name'], ['picture', 'name', ...Object.keys(extras)]]) {
    const kept: PorteroClaims = { ...claims };
    for (const name of dropped) delete kept[name];
    const token = sign(keys, kept);
    if (token.length <= MAX_TOKEN_LENGTH) return { token, claims: kept };
  }
  throw new PorteroError(PROFILE_UNAVAILABLE, 'the profile is too large to fit in a cookie', {
    detail: { provider: providerId, reason: 'token too large' },
  });
}
