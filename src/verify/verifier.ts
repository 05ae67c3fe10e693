import {
  compactVerify,
  createRemoteJWKSet,
  errors,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
  type RemoteJWKSetOptions,
} from 'jose';
import { PORTERO_ALGORITHMS, type PorteroAlgorithm } from '../shared/algorithms.js';
import type { PorteroClaims } from '../shared/claims.js';
import { isLoopbackHost } from '../shared/loopback.js';
import { chooseToken } from '../shared/presented-token.js';
import { claimsProblem, hasPorteroClaims, isCanonicalJws } from '../shared/token-shape.js';
import { INVALID_TOKEN, invalidOption, JWKS_UNAVAILABLE, MISSING_TOKEN, PorteroTokenError } from './errors.js';
import { DEFAULT_COOKIE_NAME, presentedTokens, tokenFrom, type RequestHeaders } from './token-from.js';

export interface VerifierOptions {
  /**
   * The `iss` portero writes: its `JWT_ISSUER`, which is its `PUBLIC_URL` unless set
   * (the `issuer` of `PUBLIC_URL/.well-known/openid-configuration`). Compared exactly.
   */
  issuer: string;
  /**
   * portero's `JWT_AUDIENCE`, when it sets one: tokens without this `aud` are refused. Without it,
   * a token that names any audience is refused (as PyJWT does): portero's own token then names
   * none, and the ID tokens portero's OpenID Provider gives its apps, signed with the same keys,
   * name the app.
   */
  audience?: string | readonly string[];
  /** Where portero publishes its keys. Default: `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string | URL;
  /**
   * The algorithms accepted, never chosen by the token. Default: all three portero signs with;
   * name only your gateway's `JWT_ALG` (and the previous one during a change) to be strict.
   */
  algorithms?: readonly PorteroAlgorithm[];
  /**
   * How long, in ms, fetched keys are used without asking the gateway again. Default 600 000
   * (10 min); `Infinity` keeps them until a token names a key not among them.
   *
   * This is how long verification keeps working while the gateway is down: once the keys are older
   * than this, the next verification fetches them again first and, if that fails, is refused as
   * `jwks_unavailable` (503 from the middlewares). The old keys are not used as a fallback, and a
   * failed fetch does not reset their age, so every verification after that tries again until one
   * fetch succeeds. Longer rides out a longer outage; but a key the gateway stops publishing
   * (retired, or leaked and removed) can still verify tokens in this process for up to this long.
   *
   * @example
   * ```ts
   * // Through a gateway outage of up to 6 h; a key portero drops may be trusted as long.
   * createVerifier({ issuer: 'https://auth.example.com', cacheMaxAge: 6 * 60 * 60 * 1000 });
   * ```
   */
  cacheMaxAge?: number;
  /**
   * How long, in ms, a fetch of the keys may take before it is given up (`jwks_unavailable`).
   * Default 5 000. Verifications that need the keys wait for it, so this bounds their delay while
   * the gateway hangs. A positive integer.
   */
  timeoutDuration?: number;
  /**
   * How long, in ms, after the last successful fetch of the keys a token naming an unknown key
   * (`kid`) is refused as `invalid_token` without fetching them again. Default 30 000. Shorter
   * notices a brand-new signing key sooner; longer caps how often forged tokens can make this
   * process call the gateway.
   */
  cooldownDuration?: number;
  /**
   * Seconds by which this machine's clock may disagree with the gateway's: allowed on `exp` and
   * `nbf`, as the gateway allows its `CLOCK_SKEW`. Default 30, the gateway's default (and the
   * Python example's leeway). A non-negative number.
   */
  clockTolerance?: number;
  /**
   * Accept a plain `http://` JWKS URL on a host that is not loopback (`localhost`, `127.0.0.0/8`,
   * `[::1]`). Default `false`: anyone on that network path could replace the keys and forge tokens.
   * Set it only where the path is private and trusted (a sidecar, a service mesh that encrypts).
   */
  allowInsecureHttp?: boolean;
}

/** What {@link createVerifier} returns. Both functions can be passed around detached. */
export interface Verifier {
  /**
   * The claims of a valid token. Throws {@link PorteroTokenError}: `missing_token` for an empty
   * token, `invalid_token` for one that does not verify, `jwks_unavailable` when the keys cannot be fetched.
   */
  verify(token: string | null | undefined): Promise<PorteroClaims>;
  /**
   * The claims of the token that identifies a request, by the rule portero's own `/auth` applies:
   * a token portero did not issue (its signature does not verify against portero's keys: an app's
   * own bearer token, say) beside one it did is ignored; of portero's own tokens the
   * `Authorization: Bearer` one wins over the cookie, but both must verify and name the same `sub`
   * and `sid`; more than one token cookie counts as not signed in. Throws as {@link Verifier.verify}
   * does (`invalid_token` for the last two cases). What the middlewares use.
   */
  verifyRequest(headers: RequestHeaders, cookieName?: string): Promise<PorteroClaims>;
  /**
   * The token a request carries (Bearer header first, then the cookie); see {@link tokenFrom}. For
   * a service handed one token; to decide who a request is, use {@link Verifier.verifyRequest},
   * which also sets aside a bearer portero did not issue and refuses tokens that disagree.
   */
  tokenFrom(headers: RequestHeaders, cookieName?: string): string | undefined;
}

function jwksUrlOf(options: VerifierOptions): URL {
  if (options.allowInsecureHttp !== undefined && typeof options.allowInsecureHttp !== 'boolean') {
    throw invalidOption('"allowInsecureHttp" option must be a boolean', 'ERR_INVALID_ARG_TYPE');
  }
  const given = options.jwksUrl !== undefined;
  let url: URL;
  try {
    url = new URL(given ? (options.jwksUrl as string | URL) : `${options.issuer.replace(/\/+$/, '')}/.well-known/jwks.json`);
  } catch {
    throw given
      ? invalidOption(`"jwksUrl" option must be an absolute http(s) URL, got ${JSON.stringify(String(options.jwksUrl))}`)
      : invalidOption(`"jwksUrl" option is required when "issuer" is not a URL (issuer ${JSON.stringify(options.issuer)})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw invalidOption(`"jwksUrl" option must be an http(s) URL, got ${url.protocol} (${given ? 'given' : 'from "issuer"'})`);
  }
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname) && options.allowInsecureHttp !== true) {
    throw invalidOption(
      `${given ? '"jwksUrl" option' : '"issuer" option (which gives the JWKS URL)'} uses plain http on a non-loopback host (${url.host}): ` +
        'anyone on the path could replace the keys; use https, or pass allowInsecureHttp: true',
    );
  }
  return url;
}

/** jose's key-set options passed on when given (jose's defaults otherwise), and what each accepts. */
const DURATIONS: Record<'cacheMaxAge' | 'timeoutDuration' | 'cooldownDuration', { rule: string; ok: (ms: number) => boolean }> = {
  cacheMaxAge: { rule: 'a positive number', ok: (ms) => ms > 0 }, // Infinity too
  timeoutDuration: { rule: 'a positive integer', ok: (ms) => Number.isSafeInteger(ms) && ms > 0 },
  cooldownDuration: { rule: 'a non-negative number', ok: (ms) => ms >= 0 },
};

function keySetOptions(options: VerifierOptions): RemoteJWKSetOptions {
  const picked: RemoteJWKSetOptions = {};
  for (const [name, { rule, ok }] of Object.entries(DURATIONS) as [keyof typeof DURATIONS, (typeof DURATIONS)[keyof typeof DURATIONS]][]) {
    const value: unknown = options[name];
    if (value === undefined) continue;
    if (typeof value !== 'number')
      throw invalidOption(`"${name}" option must be a number of milliseconds, got ${typeof value}`, 'ERR_INVALID_ARG_TYPE');
    if (!ok(value)) throw invalidOption(`"${name}" option must be ${rule} of milliseconds, got ${value}`);
    picked[name] = value;
  }
  return picked;
}

function checkedClockTolerance(seconds: VerifierOptions['clockTolerance']): number {
  if (seconds === undefined) return 30;
  if (typeof seconds !== 'number') throw invalidOption('"clockTolerance" option must be a number of seconds', 'ERR_INVALID_ARG_TYPE');
  if (!Number.isFinite(seconds) || seconds < 0)
    throw invalidOption(`"clockTolerance" option must be a non-negative number of seconds, got ${seconds}`);
  return seconds;
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
    throw invalidOption(
      `"algorithms" option: ${unknown.map(String).join(', ')} not allowed; portero signs only with ${PORTERO_ALGORITHMS.join(', ')}`,
    );
  }
  return [...new Set(algorithms)];
}

/**
 * jose checks `aud` only against an `audience` given. Without one, a token that names an audience
 * is another party's, as PyJWT holds: an ID token of portero's OpenID Provider (the same keys,
 * `iss` and `typ`) names its app. RFC 8725 3.11.
 */
function refuseAnyAudience(payload: JWTPayload): void {
  if (payload.aud === undefined) return;
  const message = 'unexpected "aud" claim value: the token names an audience, and no "audience" option was given';
  throw new errors.JWTClaimValidationFailed(message, payload, 'aud', 'check_failed');
}

/**
 * A verifier for the tokens one portero gateway issues. Options are checked here, once (a bad one
 * throws a `TypeError` naming it); portero's keys are fetched on first use, cached for
 * `cacheMaxAge` (10 min), and fetched again when a token names a key not in the cache (after a key
 * rotation), at most once per `cooldownDuration` (30 s). Build one per process and share it.
 *
 * Checks the signature against the published keys, the algorithm against `algorithms`, header
 * `typ: JWT`, `iss`, `aud` (one of `audience` when it is given, else none at all), `exp` and `iat`
 * (required), `sub` and `sid` (required, non-empty strings) and the shape of every other claim,
 * and that the token is in the one encoding portero writes. So tokens portero's OpenID Provider
 * issues to its apps with the same keys (ID tokens naming the app in `aud`, `at+jwt` access
 * tokens) are refused: they are not portero's own token (RFC 8725 3.11).
 * It cannot see a sign-out (`/logout`): that needs the gateway's `/auth` or `/userinfo`.
 *
 * @example
 * ```ts
 * import { createVerifier } from 'portero/verify';
 *
 * const verifier = createVerifier({ issuer: 'https://auth.example.com', audience: 'my-app' });
 *
 * const claims = await verifier.verifyRequest(request.headers);
 * claims.sub; // 'github:583231'
 * ```
 * @see {@link https://www.rfc-editor.org/rfc/rfc8725 RFC 8725, JSON Web Token Best Current Practices}
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options !== 'object' || options === null)
    throw invalidOption('createVerifier() needs an options object', 'ERR_INVALID_ARG_TYPE');
  const { issuer } = options;
  if (typeof issuer !== 'string' || issuer === '') {
    throw invalidOption(`"issuer" option is required: portero's JWT_ISSUER (its PUBLIC_URL unless set)`, 'ERR_INVALID_ARG_TYPE');
  }
  const audience = checkedAudience(options.audience);
  const algorithms = checkedAlgorithms(options.algorithms);
  const jwksUrl = jwksUrlOf(options);
  const remote = createRemoteJWKSet(jwksUrl, keySetOptions(options));
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
    clockTolerance: checkedClockTolerance(options.clockTolerance),
    ...(audience !== undefined ? { audience } : {}),
    algorithms,
    typ: 'JWT',
    requiredClaims: ['sub', 'sid', 'exp', 'iat'],
  };

  async function verify(token: string | null | undefined): Promise<PorteroClaims> {
    if (typeof token !== 'string' || token === '') throw new PorteroTokenError(MISSING_TOKEN, 'no token');
    // The one encoding portero writes: no padding, no other bits after the last byte.
    if (!isCanonicalJws(token)) throw new PorteroTokenError(INVALID_TOKEN, 'the token is not valid: not in its canonical encoding');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, keys, verifyOptions));
      if (audience === undefined) refuseAnyAudience(payload);
    } catch (cause) {
      if (cause instanceof PorteroTokenError) throw cause;
      if (cause instanceof errors.JOSEError || cause instanceof TypeError)
        throw new PorteroTokenError(INVALID_TOKEN, `the token is not valid: ${cause.message}`, { cause });
      throw cause;
    }
    if (!hasPorteroClaims(payload))
      throw new PorteroTokenError(INVALID_TOKEN, `the token's claims are malformed: ${claimsProblem(payload)}`);
    return payload;
  }

  /** portero's signature, with an allowed algorithm; keys out of reach reject (`jwks_unavailable`). */
  async function signedByPortero(token: string): Promise<boolean> {
    try {
      await compactVerify(token, keys, { algorithms });
      return true;
    } catch (cause) {
      if (cause instanceof errors.JOSEError || cause instanceof TypeError) return false;
      throw cause;
    }
  }

  return {
    verify,
    async verifyRequest(headers, cookieName = DEFAULT_COOKIE_NAME) {
      const choice = await chooseToken(presentedTokens(headers, cookieName), { signedByPortero, check: verify });
      if (choice.ok) return choice.claims;
      if (choice.reason === 'no token') throw new PorteroTokenError(MISSING_TOKEN, 'no token');
      throw new PorteroTokenError(INVALID_TOKEN, `the request's tokens are refused: ${choice.reason}`);
    },
    tokenFrom: (headers, cookieName = DEFAULT_COOKIE_NAME) => tokenFrom(headers, cookieName),
  };
}
