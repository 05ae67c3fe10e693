import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

/**
 * A flow record is stored encrypted under a key derived from the flow id, and the flow id lives
 * only in the browser's signed cookie (oauth2-proxy's "ticket" design).
 */
const INFO = Buffer.from('portero flow record v1');

/** The store key for a flow: a hash of its id, so the id itself is never in the store. */
export function flowStoreId(flowId: string): string {
  return createHash('sha256').update(flowId).digest('base64url');
}

function keyFor(flowId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(flowId, 'base64url'), Buffer.alloc(0), INFO, 32));
}

export function seal(flowId: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(flowId), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** The plaintext, or undefined when the sealed value was not made with this flow id. */
export function unseal(flowId: string, sealed: string): string | undefined {
  try {
    const raw = Buffer.from(sealed, 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', keyFor(flowId), raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
