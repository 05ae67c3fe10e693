import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Everything a login needs to keep secret is derived from its flow id, 192 random bits that live
 * only in the browser's signed cookie (oauth2-proxy's "ticket" design): where the record is
 * stored, the key it is sealed under, and the state, nonce and PKCE verifier sent to the
 * provider. HMAC (SHA-512, SHA-256) keyed by the flow id, one label each, so none tells anything of another
 * or of the flow id. The store then holds only what cannot be derived (the return address), sealed.
 */
export const FLOW_ID_BYTES = 24;

/** What a store dump shows: where the record is, and the key and IV it is sealed with (never stored). */
export interface StoreSecrets {
  /** 16 bytes, base64url: the record's key in the store. */
  readonly storeId: string;
  readonly key: Buffer;
  readonly iv: Buffer;
}

/** What is sent to the provider: 32 bytes each, base64url (43 characters, as openid-client's randoms). */
export interface BrowserSecrets {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
}

const STORE_LABEL = Buffer.from('portero flow v2: store');
const BROWSER_LABEL = Buffer.from('portero flow v2: state and nonce');
const VERIFIER_LABEL = Buffer.from('portero flow v2: PKCE verifier');

const derive = (algorithm: 'sha256' | 'sha512', flowId: Buffer, label: Buffer) => createHmac(algorithm, flowId).update(label).digest();

/** A new flow id: one random call per login. */
export const newFlowId = (): string => randomBytes(FLOW_ID_BYTES).toString('base64url');

export function storeSecrets(flowId: string): StoreSecrets {
  const bytes = derive('sha512', Buffer.from(flowId, 'base64url'), STORE_LABEL);
  return { storeId: bytes.subarray(0, 16).toString('base64url'), key: bytes.subarray(16, 48), iv: bytes.subarray(48, 60) };
}

export function browserSecrets(flowId: string): BrowserSecrets {
  const id = Buffer.from(flowId, 'base64url');
  const bytes = derive('sha512', id, BROWSER_LABEL);
  return {
    state: bytes.subarray(0, 32).toString('base64url'),
    nonce: bytes.subarray(32, 64).toString('base64url'),
    codeVerifier: derive('sha256', id, VERIFIER_LABEL).toString('base64url'),
  };
}

const TAG_BYTES = 16;

/**
 * AES-256-GCM of `plaintext`, bound to `associated` (what the record is for, not stored): the tag,
 * then the ciphertext. The key is the flow's own and seals exactly one message, so its derived IV
 * is never used twice.
 */
export function seal(secrets: StoreSecrets, associated: Buffer, plaintext: Buffer): Buffer {
  const cipher = createCipheriv('aes-256-gcm', secrets.key, secrets.iv).setAAD(associated);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([cipher.getAuthTag(), body]);
}

/** The plaintext, or undefined when `sealed` was not made with these secrets and this `associated` data. */
export function unseal(secrets: StoreSecrets, associated: Buffer, sealed: Buffer): Buffer | undefined {
  if (sealed.length < TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', secrets.key, secrets.iv).setAAD(associated);
    decipher.setAuthTag(sealed.subarray(0, TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}
