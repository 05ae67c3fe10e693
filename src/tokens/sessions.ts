import { errors as joseErrors, jwtVerify } from 'jose';
import type { Clock } from '../clock.js';
import type { TokenConfig } from '../config/types.js';
import { PorteroError, UNAUTHENTICATED } from '../errors.js';
import type { Profile } from '../providers/index.js';
import type { PorteroClaims } from '../shared/claims.js';
import { type IssuedToken, issueToken } from './issue.js';
import type { KeySet } from './keys.js';
import type { Revocations } from './revocations.js';

/**
 * Issues portero's tokens, checks them (signature, `typ`, issuer, audience, expiry) and whether their
 * session was revoked by `/logout`. Used by `/auth`, `/userinfo` and `/logout`.
 */
export class Sessions {
  readonly #keys: KeySet;
  readonly #revocations: Revocations;
  readonly #settings: Pick<TokenConfig, 'issuer' | 'audience' | 'ttl'>;
  readonly #clock: Clock;

  constructor(keys: KeySet, revocations: Revocations, settings: Pick<TokenConfig, 'issuer' | 'audience' | 'ttl'>, clock: Clock) {
    this.#keys = keys;
    this.#revocations = revocations;
    this.#settings = settings;
    this.#clock = clock;
  }

  /** Signs a new session token for a user who just signed in with provider `providerId`. */
  issue(providerId: string, profile: Profile): Promise<IssuedToken> {
    return issueToken(this.#keys, this.#settings, this.#clock, providerId, profile);
  }

  /** The claims of a valid token, without asking the store. Throws `unauthenticated`. */
  async verify(token: string): Promise<PorteroClaims> {
    try {
      const { payload } = await jwtVerify<PorteroClaims>(token, this.#keys.verifier, {
        algorithms: [...this.#keys.algorithms],
        issuer: this.#settings.issuer,
        ...(this.#settings.audience ? { audience: this.#settings.audience } : {}),
        typ: 'JWT',
        requiredClaims: ['sub', 'sid', 'exp', 'iat'],
        currentDate: new Date(this.#clock.now()),
      });
      return payload;
    } catch (cause) {
      if (cause instanceof joseErrors.JOSEError || cause instanceof TypeError) {
        throw new PorteroError(UNAUTHENTICATED, 'the token is not valid', {
          cause,
          detail: { reason: cause instanceof joseErrors.JOSEError ? cause.code : 'malformed' },
        });
      }
      throw cause;
    }
  }

  /** The claims of a valid token whose session is not revoked. Throws `unauthenticated` or `store_unavailable`. */
  async authenticate(token: string): Promise<PorteroClaims> {
    const claims = await this.verify(token);
    if (await this.#revocations.isRevoked(claims.sid)) {
      throw new PorteroError(UNAUTHENTICATED, 'the session was signed out', { detail: { reason: 'revoked' } });
    }
    return claims;
  }

  /** Denies the session until its token would have expired anyway. */
  revoke(claims: PorteroClaims): Promise<void> {
    return this.#revocations.revoke(claims.sid, claims.exp);
  }
}
