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
import type { Config } from '../config/types.js';
import { isPorteroAlgorithm, PORTERO_ALGORITHMS, type PorteroAlgorithm } from '../shared/algorithms.js';

/**
 * The keys portero signs with and publishes. What each key does follows from its place in the file:
 * the first signs portero's own tokens; the first RS256 key signs the tokens of portero's OpenID
 * Provider for its apps (the first key itself when JWT_ALG is RS256); every key is published.
 */
export interface KeySet {
  readonly signing: { readonly kid: string; readonly alg: PorteroAlgorithm; readonly key: CryptoKey };
  /** Served at `/.well-known/jwks.json`. */
  readonly publicJwks: JSONWebKeySet;
  /** Verifies portero's own tokens (for `/auth`, `/userinfo`, `/logout`) against every published key. */
  readonly verifier: ReturnType<typeof createLocalJWKSet>;
  readonly algorithms: readonly PorteroAlgorithm[];
  /**
   * Private JWKs for portero's OpenID Provider (the apps' ID and access tokens): every RS256 key in
   * file order, and nothing else. portero's own signing key (ES256, EdDSA) is never the provider's:
   * an app has no use for it, and the provider holds only what it signs with. With JWT_ALG=RS256
   * the signing key is the first of them. oidc-provider signs with the first key of an algorithm it
   * holds, so the apps' RS256 tokens are signed by the first RS256 key of the file (`rsaKid`); the
   * later ones (a key staged for the apps, or the one it replaced) only verify, as an
   * `id_token_hint` from before a rotation needs. Each is published in `publicJwks` too, so an app
   * verifies against the one JWKS. Copies: oidc-provider writes into the keys it is given.
   */
  readonly providerJwks: readonly JWK[];
  /**
   * The kid of the RS256 key the apps' tokens are signed with: the first RS256 key of the file.
   * Undefined without one; OpenID Connect Discovery requires a provider to offer RS256, so portero
   * refuses such keys when apps are configured (`forApps`).
   */
  readonly rsaKid: string | undefined;
}

/** What the keys are for, beside portero's own tokens. */
export interface KeySetOptions {
  /**
   * Apps are configured (APP_*): portero's OpenID Provider needs an RS256 key. Keys without one are
   * refused; `ephemeralKeySet` makes one beside the signing key.
   */
  readonly forApps?: boolean;
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

interface ImportedKey {
  readonly kid: string;
  readonly alg: PorteroAlgorithm;
  readonly key: CryptoKey;
  /** The public part, as published. */
  readonly jwk: JWK;
  readonly privateJwk: JWK;
}

/** How a problem names a key: `JWT_KEYS (/etc/portero/keys.json) key 2 (kid abc)`. */
const keyName = (source: string, index: number, jwk: JWK) => `${source} key ${index + 1}${jwk.kid ? ` (kid ${jwk.kid})` : ''}`;

/** One key of the file, imported, or what is wrong with it. */
async function importKey(jwk: JWK, index: number, defaultAlg: PorteroAlgorithm, source: string): Promise<ImportedKey | string> {
  const name = keyName(source, index, jwk);
  const alg = (jwk.alg ?? defaultAlg) as PorteroAlgorithm;
  if (!isPorteroAlgorithm(alg)) return `${name}: alg ${alg} is not one of ${PORTERO_ALGORITHMS.join(', ')}`;
  const expected = KTY[alg];
  if (jwk.kty !== expected.kty || (expected.crv && jwk.crv !== expected.crv)) {
    return `${name}: a ${alg} key must be kty ${expected.kty}${expected.crv ? ` crv ${expected.crv}` : ''}`;
  }
  if (typeof jwk.d !== 'string') return `${name}: is a public key; ${source} must hold private keys`;
  if (index === 0 && alg !== defaultAlg) return `${name}: the signing key (first) is ${alg}, but JWT_ALG is ${defaultAlg}`;
  try {
    const key = (await importJWK(jwk, alg)) as CryptoKey;
    // jose signs with nothing shorter; refuse it here rather than on every sign-in.
    const bits = (key.algorithm as { modulusLength?: number }).modulusLength;
    if (bits !== undefined && bits < MIN_RSA_BITS) return `${name}: an RSA key must be at least ${MIN_RSA_BITS} bits, this one has ${bits}`;
    const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk));
    return { kid, alg, key, jwk: { ...publicPart(jwk), kid, alg, use: 'sig' }, privateJwk: { ...jwk, kid, alg, use: 'sig' } };
  } catch (err) {
    return `${name}: ${(err as Error).message}`;
  }
}

/**
 * Builds the key set from private JWKs. Each key's `alg` defaults to `defaultAlg`; the first key
 * signs and must use `defaultAlg` (JWT_ALG); the others are published for verification only,
 * so tokens signed before a rotation keep verifying. With `forApps`, an RS256 key is required (see
 * `KeySet.rsaKid`). Problems are reported together.
 */
export async function buildKeySet(
  privateJwks: readonly JWK[],
  defaultAlg: PorteroAlgorithm,
  source = 'JWT_KEYS',
  options: KeySetOptions = {},
): Promise<KeySet> {
  const problems: string[] = [];
  if (privateJwks.length === 0) problems.push(`${source} holds no keys`);
  const imported: ImportedKey[] = [];
  for (const [index, jwk] of privateJwks.entries()) {
    const entry = await importKey(jwk, index, defaultAlg, source);
    if (typeof entry === 'string') problems.push(entry);
    else if (imported.some((other) => other.kid === entry.kid))
      problems.push(`${keyName(source, index, jwk)}: kid ${entry.kid} appears twice`);
    else imported.push(entry);
  }
  const [first] = imported;
  const rsa = imported.filter((entry) => entry.alg === 'RS256');
  if (options.forApps && privateJwks.length > 0 && rsa.length === 0) {
    problems.push(
      `${source} holds no RS256 key, which portero's OpenID Provider signs the apps' tokens with (APP_* is set): ` +
        'add one beside the signing key with `npm run keys -- --out <file> --add-rsa` (README "Signing keys")',
    );
  }
  if (problems.length > 0 || !first) throw new Error(`invalid signing keys:\n  - ${problems.join('\n  - ')}`);
  const publicJwks = { keys: imported.map((entry) => entry.jwk) };
  return Object.freeze({
    signing: { kid: first.kid, alg: first.alg, key: first.key },
    publicJwks,
    verifier: createLocalJWKSet(publicJwks),
    algorithms: [...new Set(imported.map((entry) => entry.alg))],
    providerJwks: Object.freeze(rsa.map((entry) => Object.freeze({ ...entry.privateJwk }))),
    rsaKid: rsa[0]?.kid,
  });
}

/** Reads a JWKS file of private keys (as written by `npm run keys`). */
export async function loadKeyFile(path: string, defaultAlg: PorteroAlgorithm, options: KeySetOptions = {}): Promise<KeySet> {
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
  return buildKeySet(keys, defaultAlg, `JWT_KEYS (${path})`, options);
}

/**
 * A fresh key for this process only (development): tokens stop verifying when it restarts. With
 * `forApps`, an RS256 key beside it for the apps' tokens, unless it is RS256 itself.
 */
export async function ephemeralKeySet(alg: PorteroAlgorithm, options: KeySetOptions = {}): Promise<KeySet> {
  const keys = [await generateKeyJwk(alg), ...(options.forApps && alg !== 'RS256' ? [await generateKeyJwk('RS256')] : [])];
  return buildKeySet(keys, alg, 'ephemeral key', options);
}

/**
 * The keys start-up reads: JWT_KEYS, or without it (development) an ephemeral key set. With apps
 * configured (APP_*), JWT_KEYS must hold an RS256 key for them, and the ephemeral set has one.
 */
export function configuredKeySet(config: Pick<Config, 'tokens' | 'apps'>): Promise<KeySet> {
  const { keysFile, alg } = config.tokens;
  const options = { forApps: config.apps.length > 0 };
  return keysFile ? loadKeyFile(keysFile, alg, options) : ephemeralKeySet(alg, options);
}
