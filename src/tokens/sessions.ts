import { compactVerify, decodeJwt, errors as joseErrors, type JWTPayload, jwtVerify } from 'jose';
import type { Clock } from '../clock.js';
import type { TokenConfig } from '../config/types.js';
import { PorteroError, UNAUTHENTICATED } from '../errors.js';
import type { Profile } from '../providers/index.js';
import type { PorteroClaims, SessionClaims } from '../shared/claims.js';
import { claimsProblem, hasPorteroClaims, isCanonicalJws } from '../shared/token-shape.js';
import { type IssuedToken, issueToken, renewToken } from './issue.js';
import { KeyRing } from './key-ring.js';
import type { KeySet } from './keys.js';
import type { Revocations } from './revocations.js';
import { VerifiedTokens } from './verified-cache.js';

export type SessionSettings = Pick<TokenConfig, 'issuer' | 'audience' | 'ttl' | 'clockSkew'>;

const refused = (message: string, reason: string, cause?: unknown) =>
  new PorteroError(UNAUTHENTICATED, message, { ...(cause ? { cause } : {}), detail: { reason } });

/**
 * RFC 8725 3.11: the tokens portero's OpenID Provider issues to its apps are signed with the same
 * keys, with the same `iss`, `typ: JWT` and `sub`, and always name the app in `aud`. portero's own
 * token names no audience but JWT_AUDIENCE, alone: anything else in `aud` (the app's client id,
 * or JWT_AUDIENCE among others, which jose's `audience` check takes) is another party's token.
 */
function refuseOthersAudience(payload: { aud?: unknown }, audience: string | undefined): void {
  if (payload.aud === audience) return;
  const why =
    audience === undefined ? "portero's own names none (JWT_AUDIENCE is unset)" : `portero's own names JWT_AUDIENCE (${audience}) alone`;
  throw new joseErrors.JWTClaimValidationFailed(`unexpected "aud" claim value: ${why}`, payload as JWTPayload, 'aud', 'check_failed');
}

/**
 * Issues portero's tokens, checks them (encoding, signature, `typ: JWT`, issuer, audience exactly
 * portero's own, times, the shape of every claim) and whether their session was revoked by
 * `/logout`. Used by `/`, `/auth`, `/auth/redirect`, `/userinfo`, `/refresh` and `/logout`.
 */
export class Sessions {
  /** The keys in use: a reload of JWT_KEYS replaces them (`KeyRing`). */
  readonly #keys: KeyRing;
  readonly #revocations: Revocations;
  readonly #settings: SessionSettings;
  readonly #clock: Clock;
  readonly #cacheEntries: number | undefined;
  /**
   * Tokens that passed `verify` under `keys` and these settings; see `VerifiedTokens`. A new key
   * set starts a new, empty cache: nothing verified under a key that a reload retired survives it.
   */
  #verified: { readonly keys: KeySet; readonly tokens: VerifiedTokens };

  constructor(
    keys: KeySet | KeyRing,
    revocations: Revocations,
    settings: SessionSettings,
    clock: Clock,
    options: { cacheEntries?: number } = {},
  ) {
    this.#keys = keys instanceof KeyRing ? keys : new KeyRing(keys);
    this.#revocations = revocations;
    this.#settings = settings;
    this.#clock = clock;
    this.#cacheEntries = options.cacheEntries;
    this.#verified = { keys: this.#keys.current, tokens: new VerifiedTokens(clock, options.cacheEntries) };
  }

  /** The verified tokens of `keys`: an empty cache when they are not the keys the cache was filled under. */
  #verifiedUnder(keys: KeySet): VerifiedTokens {
    if (this.#verified.keys !== keys) this.#verified = { keys, tokens: new VerifiedTokens(this.#clock, this.#cacheEntries) };
    return this.#verified.tokens;
  }

  /** Signs a new session token for a user who just signed in with provider `providerId`, never valid past `notAfter` (seconds). */
  issue(providerId: string, profile: Profile, notAfter?: number): Promise<IssuedToken> {
    return issueToken(this.#keys.current, this.#settings, this.#clock, providerId, profile, notAfter);
  }

  /** A new token of a living session, with the claims it was given at sign-in; never valid past `notAfter` (seconds). */
  renew(claims: SessionClaims, notAfter: number): IssuedToken {
    return renewToken(this.#keys.current, this.#settings, this.#clock, claims, notAfter);
  }

  /**
   * The claims of a token portero issued, checked like `verify` but as of its own `iat`: one that
   * expired since is still good for asking its session to renew it. Never enough to be let in.
   */
  async verifyForRenewal(token: string): Promise<PorteroClaims> {
    let iat: unknown;
    try {
      ({ iat } = decodeJwt(token));
    } catch (cause) {
      throw refused('the token is not valid', 'malformed', cause);
    }
    if (typeof iat !== 'number' || !Number.isSafeInteger(iat) || iat * 1000 > this.#clock.now() + this.#settings.clockSkew * 1000) {
      throw refused('the token is not valid', 'bad iat');
    }
    return this.#verifyAfresh(token, this.#keys.current, new Date(iat * 1000));
  }

  /**
   * Whether portero issued `token`: its signature verifies against one of portero's keys, with one
   * of its algorithms. Whatever else it holds (expired, revoked, another audience) is for `verify`.
   */
  async signedByPortero(token: string): Promise<boolean> {
    const keys = this.#keys.current;
    // A token that passed `verify` passed this too.
    if (this.#verifiedUnder(keys).get(VerifiedTokens.keyOf(token))) return true;
    try {
      await compactVerify(token, keys.verifier, { algorithms: [...keys.algorithms] });
      return true;
    } catch (cause) {
      if (cause instanceof joseErrors.JOSEError || cause instanceof TypeError) return false;
      throw cause;
    }
  }

  /**
   * The claims of a valid token, without asking the store. Throws `unauthenticated`. The claims
   * are frozen: one token's are shared by every request presenting it until it expires.
   */
  async verify(token: string): Promise<PorteroClaims> {
    // One key set for the whole check: a reload meanwhile leaves this result in the cache it replaced.
    const keys = this.#keys.current;
    const verified = this.#verifiedUnder(keys);
    const key = VerifiedTokens.keyOf(token);
    return verified.get(key) ?? verified.set(key, await this.#verifyAfresh(token, keys));
  }

  async #verifyAfresh(token: string, keys: KeySet, at = new Date(this.#clock.now())): Promise<PorteroClaims> {
    // The one encoding portero writes, so a token has one text (the one a deny list or cache keys by).
    if (!isCanonicalJws(token)) throw refused('the token is not valid', 'not canonical');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys.verifier, {
        algorithms: [...keys.algorithms],
        issuer: this.#settings.issuer,
        ...(this.#settings.audience ? { audience: this.#settings.audience } : {}),
        typ: 'JWT',
        requiredClaims: ['sub', 'sid', 'exp', 'iat'],
        currentDate: at,
        clockTolerance: this.#settings.clockSkew,
      }));
      refuseOthersAudience(payload, this.#settings.audience);
    } catch (cause) {
      if (cause instanceof joseErrors.JOSEError || cause instanceof TypeError) {
        throw refused('the token is not valid', cause instanceof joseErrors.JOSEError ? cause.code : 'malformed', cause);
      }
      throw cause;
    }
    // After the signature: portero's key vouches for the bytes, this for their shape.
    if (!hasPorteroClaims(payload)) throw refused(`the token's claims are malformed: ${claimsProblem(payload)}`, 'malformed claims');
    return payload;
  }

  /** The claims of a valid token whose session is not revoked. Throws `unauthenticated` or `store_unavailable`. */
  async authenticate(token: string): Promise<PorteroClaims> {
    const claims = await this.verify(token);
    if (await this.#revocations.isRevoked(claims.sid)) throw refused('the session was signed out', 'revoked');
    return claims;
  }

  /** Whether session `sid` was signed out (see `Revocations.isRevoked`). */
  isRevoked(sid: string): Promise<boolean> {
    return this.#revocations.isRevoked(sid);
  }

  /**
   * Denies session `sid` until every token issued for it so far would have expired anyway (JWT_TTL
   * from now), on any instance's clock.
   */
  revoke(sid: string): Promise<void> {
    return this.#revocations.revoke(sid, Math.floor(this.#clock.now() / 1000) + this.#settings.ttl);
  }
}
