/** The algorithms portero signs its tokens with (its `JWT_ALG`). */
export type PorteroAlgorithm = 'ES256' | 'EdDSA' | 'RS256';

/** Every algorithm portero can sign with: the gateway's choices and the verifier's default allow-list. */
export const PORTERO_ALGORITHMS: readonly PorteroAlgorithm[] = Object.freeze(['ES256', 'EdDSA', 'RS256']);

export const isPorteroAlgorithm = (value: unknown): value is PorteroAlgorithm => PORTERO_ALGORITHMS.includes(value as PorteroAlgorithm);
