import type { JWTPayload } from 'jose';

/**
 * The claims of a token portero issues. One definition for the gateway, which signs them, and for
 * `portero/verify`, which downstream services use to check them, so the two never drift apart.
 */
export interface PorteroClaims extends JWTPayload {
  iss: string;
  /** `<provider id>:<subject at the provider>`, e.g. `github:583231`. */
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  /** Session id; `/logout` revokes it (only the gateway's `/auth` and `/userinfo` see revocations). */
  sid: string;
  /** The provider id the user signed in with. */
  provider: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  picture?: string;
  /** The groups of the provider's `_ALLOWED_GROUPS` the user is in, as the operator spells them. */
  groups?: string[];
}

/**
 * What every token of one session says alike: its claims but those each token has its own of
 * (`iss`, `aud`, `iat`, `exp`, `jti`). A session keeps them from sign-in to renew its token.
 */
export type SessionClaims = Pick<PorteroClaims, 'sub' | 'sid' | 'provider'> & Readonly<Record<string, unknown>>;

/** The claims of `claims` that a session keeps; see {@link SessionClaims}. */
export function sessionClaimsOf(claims: PorteroClaims): SessionClaims {
  const { iss: _iss, aud: _aud, iat: _iat, exp: _exp, jti: _jti, ...kept } = claims;
  return kept;
}

/** The cookie the gateway sets the token in, unless `TOKEN_COOKIE_NAME` says otherwise, under plain http or with `COOKIE_DOMAIN`. */
export const DEFAULT_TOKEN_COOKIE = 'auth_token';

/**
 * The cookie the gateway sets the token in, unless `TOKEN_COOKIE_NAME` says otherwise, under an
 * https `PUBLIC_URL` without `COOKIE_DOMAIN`: browsers let no other host (a sibling subdomain)
 * set a `__Host-` cookie, so none can plant a token of its choosing.
 */
export const HOST_TOKEN_COOKIE = '__Host-auth_token';
