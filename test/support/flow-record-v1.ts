import { createCipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * What portero 0.1 wrote for a login in flight (flow record version 1), copied from it and frozen:
 * a rolling-deploy test plants these and checks that this version still finishes the login, so the
 * reader (src/flow/flow-record-v1.ts) is checked against the format, not against itself.
 */
export interface V1Flow {
  readonly flowId: string;
  /** The store key, without the store's prefix. */
  readonly key: string;
  readonly value: string;
}

export function v1Flow(fields: Record<string, unknown>, flowId = randomBytes(32).toString('base64url')): V1Flow {
  const key = Buffer.from(hkdfSync('sha256', Buffer.from(flowId, 'base64url'), Buffer.alloc(0), Buffer.from('portero flow record v1'), 32));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(fields), 'utf8'), cipher.final()]);
  return {
    flowId,
    key: `flow:${createHash('sha256').update(flowId).digest('base64url')}`,
    value: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url'),
  };
}

/** The fields a version-1 record held, as 0.1's startLogin filled them. */
export function v1Fields(record: {
  provider: string;
  issuer: string;
  state: string;
  nonce?: string;
  codeVerifier: string;
  returnTo: string;
}) {
  return { v: 1, ...record, createdAt: Date.now() };
}
