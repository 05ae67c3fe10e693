import { SignJWT, type JWTPayload } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { PorteroError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ephemeralKeySet, type KeySet } from '../../src/tokens/keys.js';
import { Revocations } from '../../src/tokens/revocations.js';
import { Sessions } from '../../src/tokens/sessions.js';
import { ManualClock } from '../support/app.js';

const SETTINGS = { issuer: 'https://gateway.test', audience: 'downstream', ttl: 600 };

let clock: ManualClock;
let keys: KeySet;
let sessions: Sessions;

beforeEach(async () => {
  clock = new ManualClock();
  keys = await ephemeralKeySet('ES256');
  sessions = new Sessions(keys, new Revocations(new MemoryStore(clock), clock), SETTINGS, clock);
});

/** A token signed with portero's real key, with the header and claims a test chooses. */
async function signed(claims: JWTPayload, header: Record<string, unknown> = {}) {
  const now = Math.floor(clock.now() / 1000);
  return new SignJWT({ iss: SETTINGS.issuer, aud: SETTINGS.audience, sub: 'corp:u', sid: 's-1', iat: now, exp: now + 60, ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid, typ: 'JWT', ...header })
    .sign(keys.signing.key);
}

async function reasonRefused(token: string): Promise<unknown> {
  const error = await sessions.authenticate(token).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(PorteroError);
  expect((error as PorteroError).code).toBe('unauthenticated');
  return (error as PorteroError).detail.reason;
}

describe("checking portero's own tokens", () => {
  it('accepts what it issues', async () => {
    const { token } = await sessions.issue('corp', { subject: 'u' });
    expect(await sessions.authenticate(token)).toMatchObject({ sub: 'corp:u', iss: SETTINGS.issuer, aud: 'downstream' });
  });

  it('accepts a well-formed token signed with its key (the baseline for the refusals below)', async () => {
    expect(await sessions.authenticate(await signed({}))).toMatchObject({ sub: 'corp:u' });
  });

  it('refuses another typ (e.g. an access token signed with the same key)', async () => {
    expect(await reasonRefused(await signed({}, { typ: 'at+jwt' }))).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('refuses the right audience with the wrong issuer, and the right issuer with the wrong audience', async () => {
    expect(await reasonRefused(await signed({ iss: 'https://elsewhere.test' }))).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
    expect(await reasonRefused(await signed({ aud: 'someone-else' }))).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('refuses a token without sid (it could never be signed out)', async () => {
    expect(await reasonRefused(await signed({ sid: undefined }))).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
  });

  it('refuses HS256, even keyed with the public key, and alg none', async () => {
    const publicJwk = JSON.stringify(keys.publicJwks.keys[0]);
    const hs256 = await new SignJWT({ iss: SETTINGS.issuer, aud: SETTINGS.audience, sub: 'corp:u', sid: 's', iat: 1, exp: 9e9 })
      .setProtectedHeader({ alg: 'HS256', kid: keys.signing.kid, typ: 'JWT' })
      .sign(new TextEncoder().encode(publicJwk));
    expect(await reasonRefused(hs256)).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
    const [, payload] = (await signed({})).split('.');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    expect(await reasonRefused(none)).toBe('ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('refuses an expired token and a revoked session', async () => {
    const { token, claims } = await sessions.issue('corp', { subject: 'u' });
    await sessions.revoke(claims);
    expect(await reasonRefused(token)).toBe('revoked');
    const fresh = await sessions.issue('corp', { subject: 'u' });
    clock.advance(601);
    expect(await reasonRefused(fresh.token)).toBe('ERR_JWT_EXPIRED');
  });
});

describe('the size of what is issued', () => {
  it('drops a huge picture, then name, so the token fits in a cookie; refuses when even that is not enough', async () => {
    const { token, claims } = await sessions.issue('corp', {
      subject: 'u',
      name: 'N'.repeat(5000),
      picture: `https://p/${'x'.repeat(5000)}`,
      email: 'a@b.c',
      emailVerified: true,
    });
    expect(token.length).toBeLessThanOrEqual(3800);
    expect(claims).not.toHaveProperty('name');
    expect(claims).not.toHaveProperty('picture');
    expect(claims.email).toBe('a@b.c');
    const small = await sessions.issue('corp', { subject: 'u', name: 'Ada', picture: `https://p/${'x'.repeat(5000)}` });
    expect(small.claims).toMatchObject({ name: 'Ada' });
    expect(small.claims).not.toHaveProperty('picture');
    await expect(sessions.issue('corp', { subject: 'u'.repeat(5000) })).rejects.toMatchObject({ code: 'profile_unavailable' });
  });
});
