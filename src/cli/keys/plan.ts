import type { JWK } from 'jose';
import type { PorteroAlgorithm } from '../../shared/algorithms.js';

const MAX_KEYS = 3;

/** Ends the run: `keys: message` on stderr, exit 1. */
export function fail(message: string): never {
  console.error(`keys: ${message}`);
  process.exit(1);
}

/** What the file looks like, and with which algorithm a key without `alg` is read (JWT_ALG, as portero reads it). */
export interface KeyFile {
  readonly out: string;
  readonly existing: JWK[] | undefined;
  readonly alg: PorteroAlgorithm;
}

/** What to write: the keys kept, in order, the keys made, and those dropped. */
export interface Plan {
  readonly kept: JWK[];
  readonly added: JWK[];
  readonly dropped: JWK[];
}

export const isRsa = (key: JWK | undefined, alg: PorteroAlgorithm) => key !== undefined && (key.alg ?? alg) === 'RS256';

/** The RSA keys kept for the apps, in file order: the RS256 keys, when the signing key is not one. */
export function appsKeys(keys: readonly JWK[], alg: PorteroAlgorithm): JWK[] {
  return isRsa(keys[0], alg) ? [] : keys.filter((key) => isRsa(key, alg));
}

/** `keys` with at most MAX_KEYS of those `ofKind` picks, the last (oldest) of them dropped. */
export function capped(keys: readonly JWK[], ofKind: (keys: readonly JWK[]) => JWK[]): { kept: JWK[]; dropped: JWK[] } {
  const dropped = ofKind(keys).slice(MAX_KEYS);
  return { kept: keys.filter((key) => !dropped.includes(key)), dropped };
}
