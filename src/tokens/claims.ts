/**
 * The claims of a token portero issues. One definition, in the `portero/verify` module that
 * downstream services import, so the two can never drift apart.
 */
export type { PorteroClaims } from '../verify/claims.js';
