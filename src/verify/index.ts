/**
 * @module
 * Verifies portero's tokens in a downstream Node service: `createVerifier` for any code,
 * `porteroAuth` for Hono, `expressAuth` for Express and Connect. Needs jose at run time, nothing
 * else (cookies are read by src/shared, as the gateway reads them).
 *
 * @example
 * ```ts
 * import { createVerifier } from 'portero/verify';
 *
 * const verifier = createVerifier({ issuer: 'https://auth.example.com' });
 * // The token of a request by the gateway's rule: a bearer portero issued wins over the cookie,
 * // a foreign bearer is ignored, two that disagree (or two token cookies) are refused.
 * const claims = await verifier.verifyRequest(req.headers);
 * ```
 */
export type { AuthOptions } from './auth.js';
export type { PorteroAlgorithm } from '../shared/algorithms.js';
export { PORTERO_ALGORITHMS } from '../shared/algorithms.js';
export type { PorteroClaims } from '../shared/claims.js';
export { INVALID_TOKEN, JWKS_UNAVAILABLE, MISSING_TOKEN, PorteroTokenError, type PorteroTokenErrorCode } from './errors.js';
export { expressAuth, type NodeMiddleware, type PorteroRequest } from './express.js';
export { porteroAuth, type PorteroVariables } from './hono.js';
export { DEFAULT_COOKIE_NAME, tokenFrom, type RequestHeaders } from './token-from.js';
export { createVerifier, type Verifier, type VerifierOptions } from './verifier.js';
