import { SignJWT, type JWTPayload } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { PorteroError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ephemeralKeySet, type KeySet } from '../../src/tokens/keys.js';
import { Revocations } from '../../src/tokens/revocations.js';
import { Sessions } from '../../src/tokens/sessions.js';
import { ManualClock } from '../support/app.js';

const SETTINGS = { issuer: 'https://gateway.test', audience: 'downstream', ttl: 600, clockSkew: 0 };

let clock: ManualClock;
let keys: KeySet;
let sessions: Sessions;

beforeEach(async () => {
  clock = new ManualClock();
  keys = await ephemeralKeySet('ES256');
  sessions = new Sessions(keys, new Revocations(new MemoryStore(clock), clock, 0), SETTINGS, clock);
});

/** A token signed with portero's real key, with the header and claims a test chooses. */
async function signed(claims: JWTPayload, header: Record<string, unknown> = {}) {
  const now = Math.floor(clock.now() / 1000);
  const base = {
    iss: SETTINGS.issuer,
    aud: SETTINGS.audience,
    sub: 'corp:u',
    sid: 's-1',
    jti: 'j-1',
    provider: 'corp',
    iat: now,
    exp: now + 60,
  };
  return new SignJWT({ ...base, ...claims })
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

  it("refuses an audience that is not exactly portero's own: JWT_AUDIENCE among others, or any when it is unset", async () => {
    // An ID token portero's OpenID Provider gives an app names the app, with the same keys, iss and typ.
    expect(await reasonRefused(await signed({ aud: [SETTINGS.audience, 'some-app'] }))).toBe('ERR_JWT_CLAIM_VALIDATION_FAILED');
    const noAudience = new Sessions(keys, new Revocations(new MemoryStore(clock), clock, 0), { ...SETTINGS, audience: undefined }, clock);
    await expect(noAudience.authenticate(await signed({ aud: undefined }))).resolves.toMatchObject({ sub: 'corp:u' });
    for (const aud of ['some-app', SETTINGS.audience, ['some-app']]) {
      await expect(noAudience.authenticate(await signed({ aud }))).rejects.toMatchObject({
        code: 'unauthenticated',
        detail: { reason: 'ERR_JWT_CLAIM_VALIDATION_FAILED' },
      });
      await expect(noAudience.verifyForRenewal(await signed({ aud }))).rejects.toMatchObject({ code: 'unauthenticated' });
    }
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
    await sessions.revoke(claims.sid);
    expect(await reasonRefused(token)).toBe('revoked');
    const fresh = await sessions.issue('corp', { subject: 'u' });
    clock.advance(601);
    expect(await reasonRefused(fresh.token)).toBe('ERR_JWT_EXPIRED');
  });
});

describe('malformed claims in a validly signed token', () => {
  const cases: [string, JWTPayload][] = [
    ['sub an object (gave a 500 in /auth)', { sub: { id: 1 } as never }],
    ['sub empty', { sub: '' }],
    ['sid an array (was accepted)', { sid: ['s-1'] as never }],
    ['sid empty', { sid: '' }],
    ['jti a number', { jti: 7 as never }],
    ['exp 1e308 (broke /logout)', { exp: 1e308 }],
    ['exp a fraction', { exp: Math.floor(Date.now() / 1000) + 60.5 }],
    ['iat negative', { iat: -1 }],
    ['nbf a string', { nbf: '0' as never }],
    ['provider missing', { provider: undefined }],
    ['email a number', { email: 5 as never }],
    ['email_verified a string', { email_verified: 'true' as never }],
    ['name an object', { name: {} as never }],
    ['preferred_username an array', { preferred_username: ['x'] as never }],
    ['picture a number', { picture: 1 as never }],
  ];
  for (const [what, claims] of cases) {
    it(`refuses ${what}`, async () => {
      const reason = await reasonRefused(await signed(claims));
      expect(['malformed claims', 'ERR_JWT_CLAIM_VALIDATION_FAILED', 'ERR_JWT_INVALID']).toContain(reason);
    });
  }

  it('says which claim is wrong, after the signature was checked', async () => {
    await expect(sessions.verify(await signed({ sub: { id: 1 } as never }))).rejects.toMatchObject({
      message: "the token's claims are malformed: sub must be a non-empty string",
      detail: { reason: 'malformed claims' },
    });
    // A forged token of the same shape fails on its signature first.
    const [h, , sig] = (await signed({})).split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: {} })).toString('base64url')}.${sig}`;
    expect(await reasonRefused(forged)).toBe('ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });
});

describe('the encoding of a token', () => {
  const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  /** The last character with its lowest bit flipped: padding bits for an ES256 signature (64 bytes). */
  const flipped = (segment: string) => segment.slice(0, -1) + ALPHABET[ALPHABET.indexOf(segment.at(-1)!) ^ 1];

  it('accepts only the canonical text, not another spelling of the same bytes that jose would take', async () => {
    const { token } = await sessions.issue('corp', { subject: 'u' });
    const [h, p, sig] = token.split('.') as [string, string, string];
    expect(Buffer.from(flipped(sig), 'base64url')).toEqual(Buffer.from(sig, 'base64url'));
    const variants = {
      'a padding bit of the signature flipped': `${h}.${p}.${flipped(sig)}`,
      'padding on the signature': `${h}.${p}.${sig}==`,
      'padding on the payload': `${h}.${p}${'='.repeat((4 - (p.length % 4)) % 4 || 4)}.${sig}`,
      'the standard alphabet': `${h}.${p}.${sig.replaceAll('-', '+').replaceAll('_', '/')}`,
    };
    for (const [what, variant] of Object.entries(variants)) {
      if (variant === token) continue;
      expect(await reasonRefused(variant), what).toBe('not canonical');
    }
    expect(await sessions.authenticate(token)).toMatchObject({ sub: 'corp:u' });
  });

  it("takes the flipped-bit signature as portero's signature (so beside a cookie it refuses, not ignores)", async () => {
    const { token } = await sessions.issue('corp', { subject: 'u' });
    const [h, p, sig] = token.split('.') as [string, string, string];
    expect(await sessions.signedByPortero(`${h}.${p}.${flipped(sig)}`)).toBe(true);
  });
});

describe("which tokens are portero's", () => {
  it("those whose signature verifies against its keys; not another key's, even naming its kid, nor HS256, nor junk", async () => {
    expect(await sessions.signedByPortero((await sessions.issue('corp', { subject: 'u' })).token)).toBe(true);
    const other = await ephemeralKeySet('ES256');
    const foreign = await new SignJWT({ sub: 'corp:u' })
      .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid })
      .sign(other.signing.key);
    expect(await sessions.signedByPortero(foreign)).toBe(false);
    const hs256 = await new SignJWT({ sub: 'corp:u' }).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32));
    expect(await sessions.signedByPortero(hs256)).toBe(false);
    expect(await sessions.signedByPortero('the-apps-own-api-token')).toBe(false);
  });
});

describe('clock skew', () => {
  it('takes a token up to clockSkew seconds past its exp, and its revocation lives as long', async () => {
    const skewed = new Sessions(keys, new Revocations(new MemoryStore(clock), clock, 30), { ...SETTINGS, clockSkew: 30 }, clock);
    const { token, claims } = await skewed.issue('corp', { subject: 'u' });
    await skewed.revoke(claims.sid);
    clock.advance(600 + 29);
    await expect(skewed.authenticate(token)).rejects.toMatchObject({ detail: { reason: 'revoked' } });
    clock.advance(1);
    await expect(skewed.authenticate(token)).rejects.toMatchObject({ detail: { reason: 'ERR_JWT_EXPIRED' } });
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

  it('drops the extra claims after the picture and the name, all of them, never cutting one', async () => {
    const extraClaims = { roles: ['r'.repeat(900)], team: 't'.repeat(900) };
    const { token, claims } = await sessions.issue('corp', { subject: 'u', name: 'N'.repeat(1500), picture: 'https://p/x', extraClaims });
    expect(token.length).toBeLessThanOrEqual(3800);
    expect(claims).not.toHaveProperty('picture');
    expect(claims).not.toHaveProperty('name');
    expect(claims).toMatchObject(extraClaims);
    const larger = await sessions.issue('corp', { subject: 'u', extraClaims: { ...extraClaims, more: 'm'.repeat(1500) } });
    expect(larger.token.length).toBeLessThanOrEqual(3800);
    expect(Object.keys(larger.claims).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'jti', 'provider', 'sid', 'sub']);
  });
});

describe('extra claims', () => {
  it("are carried beside portero's, never in place of one, nor under a name a library reads as about the token", async () => {
    const { token, claims } = await sessions.issue('corp', {
      subject: 'u',
      extraClaims: { roles: ['admin'], sub: 'corp:admin', Provider: 'other', nonce: 'n', Scope: 'admin', level: 2 },
    });
    expect(claims).toEqual({
      iss: SETTINGS.issuer,
      aud: SETTINGS.audience,
      sub: 'corp:u',
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.any(String),
      sid: expect.any(String),
      provider: 'corp',
      roles: ['admin'],
      level: 2,
    });
    expect(await sessions.authenticate(token)).toMatchObject({ roles: ['admin'], level: 2 });
  });
});
