import { describe, expect, it } from 'vitest';
import { decodeProtectedHeader, type JWTVerifyGetKey } from 'jose';
import { MemoryStore } from '../../src/store/memory.js';
import { KeyRing } from '../../src/tokens/key-ring.js';
import { buildKeySet, generateKeyJwk, type KeySet } from '../../src/tokens/keys.js';
import { Revocations } from '../../src/tokens/revocations.js';
import { Sessions } from '../../src/tokens/sessions.js';
import { VERIFIED_CACHE_MAX_ENTRIES, VerifiedTokens } from '../../src/tokens/verified-cache.js';
import { ManualClock } from '../support/app.js';

const SETTINGS = { issuer: 'https://gateway.test', audience: 'downstream', ttl: 600, clockSkew: 0 };

/** The key set with its verifier counting how often jose asked it for a key: once per signature verified. */
function counted(keys: KeySet): { keys: KeySet; verifications: () => number } {
  let calls = 0;
  const verifier = ((...args: Parameters<JWTVerifyGetKey>) => {
    calls++;
    return (keys.verifier as JWTVerifyGetKey)(...args);
  }) as KeySet['verifier'];
  return { keys: { ...keys, verifier }, verifications: () => calls };
}

async function setUp(options: { clockSkew?: number; cacheEntries?: number; keys?: KeySet } = {}) {
  const clock = new ManualClock();
  const base = options.keys ?? (await buildKeySet([await generateKeyJwk('ES256')], 'ES256'));
  const { keys, verifications } = counted(base);
  const settings = { ...SETTINGS, clockSkew: options.clockSkew ?? 0 };
  const revocations = new Revocations(new MemoryStore(clock), clock, settings.clockSkew);
  const sessions = new Sessions(keys, revocations, settings, clock, { cacheEntries: options.cacheEntries });
  return { clock, keys, sessions, verifications };
}

describe('the cache of verified tokens', () => {
  it('verifies a token once, however often it is presented, and still checks revocation every time', async () => {
    const { sessions, verifications } = await setUp();
    const { token, claims } = await sessions.issue('corp', { subject: 'u' });
    for (let i = 0; i < 5; i++) expect(await sessions.authenticate(token)).toMatchObject({ sub: 'corp:u' });
    expect(verifications()).toBe(1);
    await sessions.revoke(claims.sid);
    await expect(sessions.authenticate(token)).rejects.toMatchObject({ detail: { reason: 'revoked' } });
  });

  it('keeps an entry until the token expires and not a second longer', async () => {
    const { clock, sessions } = await setUp();
    const { token } = await sessions.issue('corp', { subject: 'u' });
    await sessions.authenticate(token);
    clock.advance(599);
    await expect(sessions.authenticate(token)).resolves.toMatchObject({ sub: 'corp:u' });
    clock.advance(1);
    await expect(sessions.authenticate(token)).rejects.toMatchObject({ detail: { reason: 'ERR_JWT_EXPIRED' } });
  });

  it('leaves the clock skew past exp to a fresh verify, which decides as without the cache', async () => {
    const { clock, sessions, verifications } = await setUp({ clockSkew: 30 });
    const { token } = await sessions.issue('corp', { subject: 'u' });
    await sessions.authenticate(token);
    clock.advance(600 + 29);
    await expect(sessions.authenticate(token)).resolves.toMatchObject({ sub: 'corp:u' });
    expect(verifications()).toBe(2);
    clock.advance(1);
    await expect(sessions.authenticate(token)).rejects.toMatchObject({ detail: { reason: 'ERR_JWT_EXPIRED' } });
  });

  it('keys by the whole token: a cached signature under another payload is refused', async () => {
    const { sessions } = await setUp();
    const { token } = await sessions.issue('corp', { subject: 'u' });
    await sessions.authenticate(token);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: 'corp:admin' })).toString('base64url')}.${signature}`;
    await expect(sessions.authenticate(forged)).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(await sessions.signedByPortero(forged)).toBe(false);
  });

  it('stays within its bound under a flood of distinct valid tokens, evicting the least recently used', async () => {
    const { sessions, verifications } = await setUp({ cacheEntries: 50 });
    const first = await sessions.issue('corp', { subject: 'first' });
    const recent = await sessions.issue('corp', { subject: 'recent' });
    await sessions.authenticate(first.token);
    for (let i = 0; i < 200; i++) {
      const { token } = await sessions.issue('corp', { subject: `flood-${i}` });
      await sessions.authenticate(token);
      // `recent`, used all along, is never the least recently used.
      if (i % 10 === 0) await sessions.authenticate(recent.token);
    }
    const before = verifications();
    await sessions.authenticate(recent.token);
    expect(verifications()).toBe(before);
    await sessions.authenticate(first.token);
    expect(verifications()).toBe(before + 1);
  });

  it(`holds at most ${VERIFIED_CACHE_MAX_ENTRIES} tokens by default`, () => {
    const clock = new ManualClock();
    const cache = new VerifiedTokens(clock);
    const exp = Math.floor(clock.now() / 1000) + 600;
    for (let i = 0; i < VERIFIED_CACHE_MAX_ENTRIES * 2; i++) {
      cache.set(VerifiedTokens.keyOf(`token-${i}`), { iss: 'i', sub: `s${i}`, sid: `${i}`, jti: 'j', provider: 'p', iat: 0, exp });
    }
    expect(cache.size).toBe(VERIFIED_CACHE_MAX_ENTRIES);
    expect(cache.get(VerifiedTokens.keyOf('token-0'))).toBeUndefined();
    expect(cache.get(VerifiedTokens.keyOf(`token-${VERIFIED_CACHE_MAX_ENTRIES * 2 - 1}`))).toMatchObject({ sid: '19999' });
  });

  it('shares claims frozen, so no caller can change them for the next request', async () => {
    const { sessions } = await setUp();
    const { token } = await sessions.issue('corp', { subject: 'u', groups: ['staff'] });
    const claims = await sessions.authenticate(token);
    expect(() => {
      (claims as { sub: string }).sub = 'corp:admin';
    }).toThrow(TypeError);
    expect(() => claims.groups?.push('admins')).toThrow(TypeError);
    expect(await sessions.authenticate(token)).toMatchObject({ sub: 'corp:u', groups: ['staff'] });
  });
});

describe('keys rotated away (JWT_KEYS)', () => {
  it('leave nothing valid in the cache: a gateway without the old key refuses what one with it had verified', async () => {
    const oldKey = await generateKeyJwk('ES256');
    const newKey = await generateKeyJwk('ES256');
    // Before the rotation: the old key signs, and its tokens are verified (and cached) in this process.
    const before = await setUp({ keys: await buildKeySet([oldKey], 'ES256') });
    const { token } = await before.sessions.issue('corp', { subject: 'u' });
    await before.sessions.authenticate(token);
    // Rotated, the old key still published: the token stays valid, as a fresh verify says.
    const rotated = await setUp({ keys: await buildKeySet([newKey, oldKey], 'ES256') });
    await expect(rotated.sessions.authenticate(token)).resolves.toMatchObject({ sub: 'corp:u' });
    // The old key dropped: refused, in the same process as the caches that had verified it.
    const retired = await setUp({ keys: await buildKeySet([newKey], 'ES256') });
    await expect(retired.sessions.authenticate(token)).rejects.toMatchObject({ detail: { reason: 'ERR_JWKS_NO_MATCHING_KEY' } });
    expect(await retired.sessions.signedByPortero(token)).toBe(false);
    await expect(before.sessions.authenticate(token)).resolves.toMatchObject({ sub: 'corp:u' });
  });
});

describe('keys reloaded while the process serves (SIGHUP, or the JWT_KEYS file changed)', () => {
  async function reloading(first: KeySet) {
    const clock = new ManualClock();
    const ring = new KeyRing(first);
    const sessions = new Sessions(ring, new Revocations(new MemoryStore(clock), clock, 0), SETTINGS, clock);
    return { ring, sessions };
  }

  it('a token of a key the reload retired is refused at once by the same Sessions that had verified and cached it', async () => {
    const oldKey = await generateKeyJwk('ES256');
    const newKey = await generateKeyJwk('ES256');
    const { ring, sessions } = await reloading(await buildKeySet([oldKey], 'ES256'));
    const { token } = await sessions.issue('corp', { subject: 'u' });
    // Verified twice: the second answer comes from the cache.
    await sessions.authenticate(token);
    await expect(sessions.authenticate(token)).resolves.toMatchObject({ sub: 'corp:u' });

    // Stage and promote: the old key is still published, so its token stays valid; new tokens carry the new kid.
    ring.replace(await buildKeySet([oldKey, newKey], 'ES256'));
    await expect(sessions.authenticate(token)).resolves.toMatchObject({ sub: 'corp:u' });
    ring.replace(await buildKeySet([newKey, oldKey], 'ES256'));
    await expect(sessions.authenticate(token)).resolves.toMatchObject({ sub: 'corp:u' });
    const renewed = await sessions.issue('corp', { subject: 'u' });
    expect(decodeProtectedHeader(renewed.token).kid).toBe(newKey.kid);

    // Retired: no cache entry made under the old keys survives the reload.
    ring.replace(await buildKeySet([newKey], 'ES256'));
    await expect(sessions.authenticate(token)).rejects.toMatchObject({ detail: { reason: 'ERR_JWKS_NO_MATCHING_KEY' } });
    expect(await sessions.signedByPortero(token)).toBe(false);
    await expect(sessions.authenticate(renewed.token)).resolves.toMatchObject({ sub: 'corp:u' });
  });

  it('a verification under the old keys that ends after the reload leaves nothing in the new cache', async () => {
    const oldKey = await generateKeyJwk('ES256');
    const { ring, sessions } = await reloading(await buildKeySet([oldKey], 'ES256'));
    const { token } = await sessions.issue('corp', { subject: 'u' });
    // Started under the old keys; the reload to a set without them comes while jose verifies.
    const pending = sessions.verify(token);
    ring.replace(await buildKeySet([await generateKeyJwk('ES256')], 'ES256'));
    await expect(pending).resolves.toMatchObject({ sub: 'corp:u' });
    await expect(sessions.verify(token)).rejects.toMatchObject({ detail: { reason: 'ERR_JWKS_NO_MATCHING_KEY' } });
  });
});
