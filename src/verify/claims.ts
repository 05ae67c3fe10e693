import type { JWTPayload } from 'jose';

/**
 * The claims of a token portero issues, as {@link Verifier.verify} returns them. The gateway's
 * own code uses this very type (src/tokens/claims.ts re-exports it).
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
}
