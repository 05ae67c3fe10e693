import { readFile } from 'node:fs/promises';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
} from 'jose';
import { isPorteroAlgorithm, PORTERO_ALGORITHMS, type PorteroAlgorithm } from '../shared/algorithms.js';

/** The keys portero signs with (the first) and publishes (all of them, public parts only). */
export interface KeySet {
  readonly signing: { readonly kid: string; readonly alg: PorteroAlgorithm; readonly key: CryptoKey };
  /** Served at `/.well-known/jwks.json`. */
  readonly publicJwks: JSONWebKeySet;
  /** Verifies portero's own tokens (for `/auth`, `/userinfo`, `/logout`) against every published key. */
  readonly verifier: ReturnType<typeof createLocalJWKSet>;
  readonly algorithms: readonly PorteroAlgorithm[];
  /**
   * Private JWKs for portero's OpenID Provider (the apps' ID and access tokens): the signing key and
   * the first RS256 key, which OpenID Connect Discovery requires a provider to offer. Each is
   * published in `publicJwks` too, so an app verifies against the one JWKS.
   */
  readonly providerJwks: readonly JWK[];
}

const KTY: Record<PorteroAlgorithm, { kty: string; crv?: string }> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  RS256: { kty: 'RSA' },
};

const MIN_RSA_BITS = 2048;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

function publicPart(jwk: JWK): JWK {
  const copy: Record<string, unknown> = { ...jwk };
  for (const member of PRIVATE_MEMBERS) delete copy[member];
  delete copy.key_ops;
  return copy as JWK;
}

/** A new private JWK with `kid` (its RFC 7638 thumbprint), `alg` and `use: sig`. */
export async function generateKeyJwk(alg: PorteroAlgorithm): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { kid: await calculateJwkThumbprint(jwk), alg, use: 'sig', ...jwk };
}

/**
 * Builds the key set from private JWKs. Each key's `alg` defaults to `defaultAlg`; the first key
 * signs and must use `defaultAlg` (JWT_ALG); the others are published for verification only,
 * so tokens signed before a rotation keep verifying. Problems are reported together.
 */
export async function buildKeySet(privateJwks: readonly JWK[], defaultAlg: PorteroAlgorithm, source = 'JWT_KEYS'): Promise<KeySet> {
  const problems: string[] = [];
  if (privateJwks.length === 0) problems.push(`${source} holds no keys`);
  const imported: { kid: string; alg: PorteroAlgorithm; key: CryptoKey; jwk: JWK; privateJwk: JWK }[] = [];
  for (const [index, jwk] of privateJwks.entries()) {
    const name = `${source} key ${index + 1}${jwk.kid ? ` (kid ${jwk.kid})` : ''}`;
    const alg = (jwk.alg ?? defaultAlg) as PorteroAlgorithm;
    if (!isPorteroAlgorithm(alg)) {
      problems.push(`${name}: alg ${alg} is not one of ${PORTERO_ALGORITHMS.join(', ')}`);
      continue;
    }
    const expected = KTY[alg];
    if (jwk.kty !== expected.kty || (expected.crv && jwk.crv !== expected.crv)) {
      problems.push(`${name}: a ${alg} key must be kty ${expected.kty}${expected.crv ? ` crv ${expected.crv}` : ''}`);
      continue;
    }
    if (typeof jwk.d !== 'string') {
      problems.push(`${name}: is a public key; ${source} must hold private keys`);
      continue;
    }
    if (index === 0 && alg !== defaultAlg) {
      problems.push(`${name}: the signing key (first) is ${alg}, but JWT_ALG is ${defaultAlg}`);
      continue;
    }
    try {
      const key = (await importJWK(jwk, alg)) as CryptoKey;
      // jose signs with nothing shorter; refuse it here rather than on every sign-in.
      const bits = (key.algorithm as { modulusLength?: number }).modulusLength;
      if (bits !== undefined && bits < MIN_RSA_BITS) {
        problems.push(`${name}: an RSA key must be at least ${MIN_RSA_BITS} bits, this one has ${bits}`);
        continue;
      }
      const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
      if (imported.some((other) => other.kid === kid)) problems.push(`${name}: kid ${kid} appears twice`);
      imported.push({ kid, alg, key, jwk: { ...publicPart(jwk), kid, alg, use: 'sig' }, privateJwk: { ...jwk, kid, alg, use: 'sig' } });
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  const [first] = imported;
  if (problems.length > 0 || !first) throw new Error(`invalid signing keys:\n  - ${problems.join('\n  - ')}`);
  const publicJwks = { keys: imported.map((entry) => entry.jwk) };
  return Object.freeze({
    signing: { kid: first.kid, alg: first.alg, key: first.key },
    publicJwks,
    verifier: createLocalJWKSet(publicJwks),
    algorithms: [...new Set(imported.map((entry) => entry.alg))],
    providerJwks: Object.freeze(
      [...new Set([first, imported.find((entry) => entry.alg === 'RS256')])]
        .filter((entry) => entry !== undefined)
        .map((entry) => Object.freeze(entry.privateJwk)),
    ),
  });
}

/** Reads a JWKS file of private keys (as written by `npm run keys`). */
export async function loadKeyFile(path: string, defaultAlg: PorteroAlgorithm): Promise<KeySet> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    // Never a SyntaxError's message: it quotes the text around the fault, a piece of a private key.
    const reason = err instanceof SyntaxError ? 'it is not valid JSON' : (err as Error).message;
    throw new Error(`JWT_KEYS: cannot read ${path} as JSON: ${reason}`);
  }
  const keys = (parsed as JSONWebKeySet | undefined)?.keys;
  if (!Array.isArray(keys)) throw new Error(`JWT_KEYS: ${path} is not a JWKS ({"keys": [...]})`);
  return buildKeySet(keys, defaultAlg, `JWT_KEYS (${path})`);
}

/** A fresh key for this process only (development): tokens stop verifying when it restarts. */
export async function ephemeralKeySet(alg: PorteroAlgorithm): Promise<KeySet> {
  return buildKeySet([await generateKeyJwk(alg)], alg, 'ephemeral key');
}
