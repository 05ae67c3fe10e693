import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const KEY_INFO = Buffer.from('portero session: provider refresh token');
const ID_INFO = Buffer.from('portero session: key id');

interface SealingKey {
  /** 8 hex characters naming the secret a value was sealed under, so opening tries one key, not all. */
  readonly id: string;
  readonly key: Buffer;
}

const sealingKey = (secret: string): SealingKey => ({
  id: Buffer.from(hkdfSync('sha256', secret, 'portero', ID_INFO, 4)).toString('hex'),
  key: Buffer.from(hkdfSync('sha256', secret, 'portero', KEY_INFO, 32)),
});

/**
 * Seals what a session keeps of the provider's (its refresh token) before it goes to the store, with
 * AES-256-GCM under a key derived by HKDF from SESSION_KEY or COOKIE_SECRET: a dump of Redis, or an
 * operator reading it, holds no credential that works at the provider. The first secret seals; every
 * one opens (COOKIE_SECRET_PREVIOUS), so a rotation loses no session.
 */
export class SecretSealer {
  readonly #keys: readonly SealingKey[];

  constructor(secrets: readonly string[]) {
    if (secrets.length === 0) throw new TypeError('SecretSealer needs a secret');
    this.#keys = secrets.map(sealingKey);
  }

  /** `v1.<key id>.<iv>.<ciphertext>.<tag>`, base64url. `context` (the session id) binds it: it opens for that session only. */
  seal(plaintext: string, context: string): string {
    const [{ id, key }] = this.#keys as [SealingKey];
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context));
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, id, iv.toString('base64url'), sealed.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** The plaintext, or undefined when no secret of ours sealed it for `context` (a retired secret, a tampered value). */
  open(sealed: string, context: string): string | undefined {
    const [version, id, iv, body, tag] = sealed.split('.');
    if (version !== VERSION || iv === undefined || body === undefined || tag === undefined) return undefined;
    for (const { key } of this.#keys.filter((candidate) => candidate.id === id)) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(context));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
      } catch {}
    }
    return undefined;
  }
}
