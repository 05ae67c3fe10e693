import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { PorteroClaims } from './claims.js';
import { INVALID_TOKEN, invalidOption, JWKS_UNAVAILABLE, MISSING_TOKEN, PorteroTokenError } from './errors.js';
import { DEFAULT_COOKIE_NAME, tokenFrom, type RequestHeaders } from './token-from.js';

/** The algorithms portero signs with (its `JWT_ALG`). */
export type PorteroAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** Every algorithm portero can sign with: the default allow-list. */
export const PORTERO_ALGORITHMS: readonly PorteroAlgorithm[] = Object.freeze(['ES256', 'EdDSA', 'RS256']);

export interface VerifierOptions {
  /**
   * The `iss` portero writes: its `JWT_ISSUER`, which is its `PUBLIC_URL` unless set
   * (the `issuer` of `PUBLIC_URL/.well-known/openid-configuration`). Compared exactly.
   */
  issuer: string;
  /** portero's `JWT_AUDIENCE`, when it sets one: tokens without this `aud` are refused. */
  audience?: string | readonly string[];
  /** Where portero publishes its keys. Default: `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string | URL;
  /**
   * The algorithms accepted, never chosen by the token. Default: all three portero signs with;
   * name only your gateway's `JWT_ALG` (and the previous one during a change) to be strict.
   */
  algorithms?: readonly PorteroAlgorithm[];
}

/** What {@link createVerifier} returns. Both functions can be passed around detached. */
export interface Verifier {
  /**
   * The claims of a valid token. Throws {@link PorteroTokenError}: `missing_token` for an empty
   * token, `invalid_token` for one that does not verify, `jwks_unavailable` when the keys cannot be fetched.
   */
  verify(token: string | null | undefined): Promise<PorteroClaims>;
  /** The token a request carries (Bearer header first, then the cookie); see {@link tokenFrom}. */
  tokenFrom(headers: RequestHeaders, cookieName?: string): string | undefined;
}

function jwksUrlOf(options: VerifierOptions): URL {
  const given = options.jwksUrl !== undefined;
  let url: URL;
  try {
    url = new URL(given ? options.jwksUrl! : `${options.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`);
  } catch {
    throw given
      ? invalidOption(`"jwksUrl" option must be an absolute http(s) URL, got ${JSON.stringify(String(options.jwksUrl))}`)
      : invalidOption(`"jwksUrl" option is required when "issuer" is not a URL (issuer ${JSON.stringify(options.issuer)})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidOption(`"jwksUrl" option must be an http(s) URL, got ${url.protocol} (${given ? 'given' : 'from "issuer"'})`);
  }
  return url;
}

function checkedAudience(audience: VerifierOptions['audience']): string | string[] | undefined {
  if (audience === undefined) return undefined;
  const list = typeof audience === 'string' ? [audience] : audience;
  if (!Array.isArray(list) || list.length === 0 || list.some((entry) => typeof entry !== 'string' || entry === '')) {
    throw invalidOption('"audience" option must be a non-empty string or a non-empty array of them', 'ERR_INVALID_ARG_TYPE');
  }
  return typeof audience === 'string' ? audience : [...list];
}

function checkedAlgorithms(algorithms: VerifierOptions['algorithms']): PorteroAlgorithm[] {
  if (algorithms === undefined) return [...PORTERO_ALGORITHMS];
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw invalidOption(`"algorithms" option must be a non-empty array of ${PORTERO_ALGORITHMS.join(', ')}`, 'ERR_INVALID_ARG_TYPE');
  }
  const unknown = algorithms.filter((alg) => !PORTERO_ALGORITHMS.includes(alg));
  if (unknown.length > 0) {
    throw invalidOption(`"algorithms" option: ${unknown.map(String).join(', ')} not allowed; portero signs only with ${PORTERO_ALGORITHMS.join(', ')}`);
  }
  return [...new Set(algorithms)];
}

/**
 * A verifier for the tokens one portero gateway issues. Options are checked here, once (a bad one
 * throws a `TypeError` naming it); portero's keys are fetched on first use, cached, and fetched
 * again when a token names a key not in the cache (after a key rotation), at most once per 30 s.
 * Build one per process and share it.
 *
 * Checks the signature against the published keys, the algorithm against `algorithms`, header
 * `typ: JWT`, `iss`, `aud` (when `audience` is given), `exp` and `iat` (required), and `sub` (required).
 * It cannot see a sign-out (`/logout`): that needs the gateway's `/auth` or `/userinfo`.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'portero/verify';
 *
 * const verifier = createVerifier({ issuer: 'https://auth.example.com', audience: 'my-app' });
 *
 * const claims = await verifier.verify(verifier.tokenFrom(request.headers));
 * claims.sub; // 'github:583231'
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc8725 RFC 8725, JSON Web Token Best Current Practices}
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options !== 'object' || options === null) throw invalidOption('createVerifier() needs an options object', 'ERR_INVALID_ARG_TYPE');
  const { issuer } = options;
  if (typeof issuer !== 'string' || issuer === '') {
    throw invalidOption(`"issuer" option is required: portero's JWT_ISSUER (its PUBLIC_URL unless set)`, 'ERR_INVALID_ARG_TYPE');
  }
  const audience = checkedAudience(options.audience);
  const algorithms = checkedAlgorithms(options.algorithms);
  const jwksUrl = jwksUrlOf(options);

  const remote = createRemoteJWKSet(jwksUrl);
  // Errors of the key lookup that the token causes (no key with its kid) are the token's; any
  // other (connection refused, timeout, not 200, not a JWKS) is the gateway's, and says so.
  const keys: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (cause) {
      if (cause instanceof errors.JWKSNoMatchingKey || cause instanceof errors.JWKSMultipleMatchingKeys) throw cause;
      throw new PorteroTokenError(JWKS_UNAVAILABLE, `cannot fetch portero's keys from ${jwksUrl.href}`, { cause });
    }
  };
  const verifyOptions = {
    issuer,
    ...(audience !== undefined ? { audience } : {}),
    algorithms,
    typ: 'JWT',
    requiredClaims: ['sub', 'exp', 'iat'],
  };

  return {
    async verify(token) {
      if (typeof token !== 'string' || token === '') throw new PorteroTokenError(MISSING_TOKEN, 'no token');
      try {
        const { payload } = await jwtVerify<PorteroClaims>(token, keys, verifyOptions);
        return payload;
      } catch (cause) {
        if (cause instanceof PorteroTokenError) throw cause;
        if (cause instanceof errors.JOSEError) throw new PorteroTokenError(INVALID_TOKEN, `the token is not valid: ${cause.message}`, { cause });
        throw cause;
      }
    },
    tokenFrom: (headers, cookieName = DEFAULT_COOKIE_NAME) => tokenFrom(headers, cookieName),
  };
}
