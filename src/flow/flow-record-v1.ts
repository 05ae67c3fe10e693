import { createDecipheriv, createHash, hkdfSync } from 'node:crypto';

/**
 * The flow records of portero 0.1 (version 1), read so that a login started on an instance of the
 * earlier version completes on this one during a rolling deploy: base64url text of
 * `iv ‖ tag ‖ AES-256-GCM(JSON)` under `flow:<SHA-256 of the flow id>`, the key derived from
 * the 32-byte flow id by HKDF. Nothing writes this format any more; its records are gone FLOW_TTL
 * after the last instance of 0.1 stopped, and this file can go in the release after.
 */
export const V1_FLOW_ID_LENGTH = 43;

const INFO = Buffer.from('portero flow record v1');

export const v1StoreId = (flowId: string): string => createHash('sha256').update(flowId).digest('base64url');

function unsealV1(flowId: string, sealed: string): string | undefined {
  try {
    const key = Buffer.from(hkdfSync('sha256', Buffer.from(flowId, 'base64url'), Buffer.alloc(0), INFO, 32));
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/** What a version-1 record held (its `createdAt` was never read). */
export interface V1Record {
  readonly provider: string;
  readonly issuer: string;
  readonly state: string;
  readonly nonce?: string;
  readonly codeVerifier: string;
  readonly returnTo: string;
}

const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** A version-1 record, or why it cannot be read. */
export function openV1(flowId: string, sealed: string): V1Record | 'does not open' | 'unknown version' | 'malformed' {
  const plaintext = unsealV1(flowId, sealed);
  if (plaintext === undefined) return 'does not open';
  let value: unknown;
  try {
    value = JSON.parse(plaintext);
  } catch {
    return 'malformed';
  }
  if (typeof value !== 'object' || value === null) return 'malformed';
  const { v, provider, issuer, state, nonce, codeVerifier, returnTo } = value as Record<string, unknown>;
  if (v !== 1) return 'unknown version';
  if (!isText(provider) || !isText(issuer) || !isText(state) || !isText(codeVerifier) || !isText(returnTo)) return 'malformed';
  if (nonce !== undefined && !isText(nonce)) return 'malformed';
  return { provider, issuer, state, codeVerifier, returnTo, ...(nonce !== undefined ? { nonce } : {}) };
}
