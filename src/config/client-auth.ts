import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ClientKey, ClientKeyAlgorithm, ProviderDefinition, ResponseMode, TokenAuthMethod } from '../providers/index.js';
import type { EnvReader } from './reader.js';

/** The common `PROVIDER_<ID>_*` settings of how a client proves itself and how the provider answers. */
export const CLIENT_AUTH_SUFFIXES = ['TOKEN_AUTH_METHOD', 'PRIVATE_KEY_FILE', 'KEY_ID', 'RESPONSE_MODE'] as const;

const TOKEN_AUTH_METHODS: readonly TokenAuthMethod[] = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'];
const RESPONSE_MODES: readonly ResponseMode[] = ['query', 'form_post'];

/** A provider's client credentials and response mode, as its variables say them, checked. */
export interface ClientCredentials {
  readonly clientSecret?: string;
  readonly privateKey?: ClientKey;
  readonly tokenAuthMethod?: TokenAuthMethod;
  readonly responseMode: ResponseMode;
}

const CURVES: Readonly<Record<string, ClientKeyAlgorithm>> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };

/** The algorithm a key signs with, by its type (RSA of at least 2048 bits, EC P-256/384/521, Ed25519), or what is wrong with it. */
function algorithmOf(key: KeyObject): { alg: ClientKeyAlgorithm } | { wrong: string } {
  const details = key.asymmetricKeyDetails;
  const bits = details?.modulusLength ?? 0;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return bits >= 2048 ? { alg: 'RS256' } : { wrong: `an RSA key of ${bits} bits (at least 2048)` };
    case 'ec': {
      const alg = CURVES[details?.namedCurve ?? ''];
      return alg ? { alg } : { wrong: `an EC key on ${details?.namedCurve} (P-256, P-384 or P-521)` };
    }
    case 'ed25519':
      return { alg: 'EdDSA' };
    default:
      return { wrong: `a ${key.asymmetricKeyType} key (RSA, EC or Ed25519)` };
  }
}

/**
 * `_PRIVATE_KEY_FILE` read now, so that a missing or wrong file stops the start rather than the
 * first login. A PEM private key (PKCS#8, or RSA/EC's own forms; Apple's `.p8` is PKCS#8).
 */
function readPrivateKey(variable: string, file: string, keyId: string | undefined, reader: EnvReader): ClientKey | undefined {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    reader.problem(`${variable}=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    // Not the parser's message: it may quote the file.
    reader.problem(`${variable}=${file} is not a PEM private key`);
    return undefined;
  }
  const algorithm = algorithmOf(key);
  if ('wrong' in algorithm) {
    reader.problem(`${variable}=${file} is ${algorithm.wrong}`);
    return undefined;
  }
  return Object.freeze({ file, key, alg: algorithm.alg, ...(keyId ? { id: keyId } : {}) });
}

function oneOf<T extends string>(variable: string, raw: string | undefined, allowed: readonly T[], reader: EnvReader): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  reader.problem(`${variable} must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return undefined;
}

/** The chosen method must have its credential: a secret for `client_secret_*`, a key for `private_key_jwt`. */
function checkMethod(prefix: string, credentials: ClientCredentials, reader: EnvReader): void {
  const { tokenAuthMethod: method, clientSecret, privateKey } = credentials;
  if (method === 'private_key_jwt' && !privateKey)
    reader.problem(`${prefix}TOKEN_AUTH_METHOD=private_key_jwt needs ${prefix}PRIVATE_KEY_FILE`);
  if (method?.startsWith('client_secret') && !clientSecret)
    reader.problem(`${prefix}TOKEN_AUTH_METHOD=${method} needs ${prefix}CLIENT_SECRET`);
}

/**
 * `_CLIENT_SECRET`, `_PRIVATE_KEY_FILE` (with `_KEY_ID`), `_TOKEN_AUTH_METHOD` and `_RESPONSE_MODE`.
 * One credential per provider: a secret and a key both set is a problem, since which one the
 * provider checks would be a guess. A preset that makes its own credentials (Apple) checks them itself.
 */
export function readClientCredentials(
  prefix: string,
  vars: ReadonlyMap<string, string>,
  preset: ProviderDefinition,
  reader: EnvReader,
): ClientCredentials {
  const get = (suffix: string) => vars.get(suffix) || undefined;
  const clientSecret = get('CLIENT_SECRET');
  const keyFile = get('PRIVATE_KEY_FILE');
  const privateKey = keyFile ? readPrivateKey(`${prefix}PRIVATE_KEY_FILE`, keyFile, get('KEY_ID'), reader) : undefined;
  const tokenAuthMethod = oneOf(`${prefix}TOKEN_AUTH_METHOD`, get('TOKEN_AUTH_METHOD'), TOKEN_AUTH_METHODS, reader);
  const responseMode = oneOf(`${prefix}RESPONSE_MODE`, get('RESPONSE_MODE'), RESPONSE_MODES, reader) ?? preset.responseMode ?? 'query';
  if (preset.responseMode === 'form_post' && responseMode !== 'form_post')
    reader.problem(`${prefix}RESPONSE_MODE: ${preset.displayName} answers by form_post only`);
  if (get('KEY_ID') && !keyFile) reader.problem(`${prefix}KEY_ID names the key of ${prefix}PRIVATE_KEY_FILE, which is not set`);
  const credentials = {
    ...(clientSecret ? { clientSecret } : {}),
    ...(privateKey ? { privateKey } : {}),
    ...(tokenAuthMethod ? { tokenAuthMethod } : {}),
    responseMode,
  };
  if (preset.clientAuthentication) {
    if (tokenAuthMethod)
      reader.problem(`${prefix}TOKEN_AUTH_METHOD is not a setting of ${preset.displayName}: it authenticates its own way`);
    return credentials;
  }
  if (clientSecret && keyFile)
    reader.problem(`${prefix}CLIENT_SECRET and ${prefix}PRIVATE_KEY_FILE are both set: set one (a secret, or a key for private_key_jwt)`);
  else if (preset.requiresClientSecret && !clientSecret && !keyFile)
    reader.problem(`${prefix}CLIENT_SECRET is required for ${preset.displayName}`);
  checkMethod(prefix, credentials, reader);
  return credentials;
}
