import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import { HttpResponse, http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import {
  BACKCHANNEL_UNSUPPORTED,
  type ErrorCode,
  INVALID_LOGOUT_TOKEN,
  isPorteroError,
  PROVIDER_TIMEOUT,
  PROVIDER_UNAVAILABLE,
} from '../../src/errors.js';
import { LOGOUT_TOKEN_MAX_AGE, logoutJtiTtl, validateLogoutToken } from '../../src/flow/logout-token.js';
import { type ConfiguredProvider, configureProviders, providerOptions } from '../../src/flow/provider-client.js';
import { storeKeys } from '../../src/store/keys.js';
import type { KeyValueStore } from '../../src/store/types.js';
import { ManualClock, memoryStore, TEST_COOKIE_SECRET } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { redisForThisFile } from '../support/store-under-test.js';

// OpenID Connect Back-Channel Logout 1.0, 2.6, rule by rule: a token the mock provider signs with
// its real key, through jose's real verification against its JWKS (msw at the network edge), each
// refusal an invalid_logout_token whose reason names the rule, never the token.

const idp = await new MockOidcProvider().init();
// A provider like Google's discovery would have it, and one that signs its ID tokens with ES256 only.
const noKeys = await new MockOidcProvider('https://nokeys.example.test', { discovery: { jwks_uri: undefined } }).init();
const es256Only = await new MockOidcProvider('https://es256.example.test', {
  discovery: { id_token_signing_alg_values_supported: ['ES256'] },
}).init();
// oidc-provider, among others, lists HS256 (keyed with the client secret) among its ID token algorithms.
const listsHmac = await new MockOidcProvider('https://hmac.example.test', {
  discovery: { id_token_signing_alg_values_supported: ['HS256', 'RS256', 'none'] },
}).init();
const msw = setupServer(...idp.handlers(), ...noKeys.handlers(), ...es256Only.handlers(), ...listsHmac.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => msw.resetHandlers());
const redis = redisForThisFile();

const EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** The provider `corp` as an operator configures it with these variables, with a configuration of its own (so its own JWKS cache). */
function configured(env: Record<string, string>): ConfiguredProvider {
  const config = parseConfig({ PUBLIC_URL: 'https://gateway.test', COOKIE_SECRET: TEST_COOKIE_SECRET, ...env });
  const provider = configureProviders(config.providers, providerOptions(config)).get('corp');
  if (!provider) throw new Error('no provider corp');
  return provider;
}

const corp = configured(idp.env('corp'));
const systemClock = { now: () => Date.now() };
const validate = (token: string, store: KeyValueStore = memoryStore(), provider = corp) =>
  validateLogoutToken(provider, token, { store, clock: systemClock });
const now = () => Math.floor(Date.now() / 1000);

/** The error `promise` rejected with, of `code`, saying nothing of `token`. */
async function rejection(promise: Promise<unknown>, code: ErrorCode, token = ''): Promise<Record<string, unknown>> {
  const error = await promise.then(
    (result) => expect.fail(`accepted: ${JSON.stringify(result)}`),
    (err: unknown) => err,
  );
  expect(isPorteroError(error, code), String(error)).toBe(true);
  const { message, detail } = error as { message: string; detail: Record<string, unknown> };
  for (const segment of token.split('.').filter((part) => part.length > 8)) {
    expect(`${message} ${JSON.stringify(detail)}`).not.toContain(segment);
  }
  expect(detail.provider).toBe('corp');
  return detail;
}

/** The reason a token was refused with; the refusal must be invalid_logout_token. */
const refusedFor = async (token: string, store?: KeyValueStore) =>
  (await rejection(validate(token, store), INVALID_LOGOUT_TOKEN, token)).reason;

const jtiKey = (jti: string) => storeKeys.logoutJti('corp', createHash('sha256').update(jti).digest('base64url'));
const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('validateLogoutToken accepts', () => {
  it('a logout token of the provider: whom it signs out, by sid, by sub, or both', async () => {
    expect(await validate(await idp.logoutToken())).toEqual({ sid: 'op-session-1' });
    expect(await validate(await idp.logoutToken({ sid: undefined, sub: 'alice' }))).toEqual({ sub: 'alice' });
    expect(await validate(await idp.logoutToken({ sub: 'alice' }))).toEqual({ sid: 'op-session-1', sub: 'alice' });
  });

  it('typ logout+jwt, a plain JWT, or none (as the spec allows), and an audience among several, with azp naming the client', async () => {
    for (const typ of ['logout+jwt', 'application/logout+jwt', 'JWT', undefined]) {
      expect(await validate(await idp.logoutToken({}, { header: { typ } }))).toEqual({ sid: 'op-session-1' });
    }
    expect(await validate(await idp.logoutToken({ aud: ['another-client', idp.clientId], azp: idp.clientId }))).toEqual({
      sid: 'op-session-1',
    });
    expect(await validate(await idp.logoutToken({ aud: [idp.clientId] }))).toEqual({ sid: 'op-session-1' });
  });

  it('a token without exp (older drafts), within its iat window; and one whose iat is a little ahead, within CLOCK_SKEW', async () => {
    expect(await validate(await idp.logoutToken({ exp: undefined, iat: now() - LOGOUT_TOKEN_MAX_AGE + 10 }))).toEqual({
      sid: 'op-session-1',
    });
    expect(await validate(await idp.logoutToken({ iat: now() + 20 }))).toEqual({ sid: 'op-session-1' });
  });
});

describe('validateLogoutToken refuses', () => {
  it('a token signed with a key that is not the provider’s (same kid), or naming a kid its JWKS lacks', async () => {
    expect(await refusedFor(await idp.logoutToken({}, { foreignKey: true }))).toBe('signature verification failed');
    expect(await refusedFor(await idp.logoutToken({}, { header: { kid: 'another-key' } }))).toMatch(/no applicable key/i);
  });

  it('a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await idp.logoutToken()).split('.');
    const forged = `${header}.${b64url({ iss: idp.issuer, aud: idp.clientId, iat: now(), jti: 'x', events: { [EVENT]: {} }, sub: 'bob' })}.${signature}`;
    expect(await refusedFor(forged)).toBe('signature verification failed');
  });

  it('alg none, and HS256 with the client secret as its key (anyone holding it could sign one)', async () => {
    const claims = { iss: idp.issuer, aud: idp.clientId, iat: now(), jti: 'j-none', events: { [EVENT]: {} }, sid: 's' };
    const unsigned = `${b64url({ alg: 'none', typ: 'logout+jwt' })}.${b64url(claims)}.`;
    expect(await refusedFor(unsigned)).toBe('"alg" (Algorithm) Header Parameter value not allowed');
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'logout+jwt' })
      .sign(new TextEncoder().encode(idp.clientSecret));
    expect(await refusedFor(hmac)).toBe('"alg" (Algorithm) Header Parameter value not allowed');
  });

  it('HS256 and none even from a provider whose discovery lists them for ID tokens', async () => {
    const provider = configured(listsHmac.env('corp'));
    const claims = { iss: listsHmac.issuer, aud: listsHmac.clientId, iat: now(), jti: 'j-hmac', events: { [EVENT]: {} }, sid: 's' };
    const hmac = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'logout+jwt' })
      .sign(new TextEncoder().encode(listsHmac.clientSecret));
    const unsigned = `${b64url({ alg: 'none' })}.${b64url(claims)}.`;
    for (const token of [hmac, unsigned]) {
      const detail = await rejection(validate(token, memoryStore(), provider), INVALID_LOGOUT_TOKEN, token);
      expect(detail.reason).toBe('"alg" (Algorithm) Header Parameter value not allowed');
    }
    expect(await validate(await listsHmac.logoutToken(), memoryStore(), provider)).toEqual({ sid: 'op-session-1' });
  });

  it('an algorithm the provider does not sign ID tokens with (its discovery’s id_token_signing_alg_values_supported)', async () => {
    const provider = configured(es256Only.env('corp'));
    const token = await es256Only.logoutToken();
    const detail = await rejection(validate(token, memoryStore(), provider), INVALID_LOGOUT_TOKEN, token);
    expect(detail.reason).toBe('"alg" (Algorithm) Header Parameter value not allowed');
  });

  it('another issuer, another audience, several audiences without azp, an azp of another party', async () => {
    expect(await refusedFor(await idp.logoutToken({ iss: 'https://other.example.test' }))).toBe('unexpected "iss" claim value');
    expect(await refusedFor(await idp.logoutToken({ aud: 'another-client' }))).toBe('unexpected "aud" claim value');
    expect(await refusedFor(await idp.logoutToken({ aud: undefined }))).toBe('missing required "aud" claim');
    // As for ID tokens (OpenID Connect Core 3.1.3.7, 4 and 5).
    expect(await refusedFor(await idp.logoutToken({ aud: ['another-client', idp.clientId] }))).toBe('several audiences and no azp');
    expect(await refusedFor(await idp.logoutToken({ aud: ['another-client', idp.clientId], azp: 'another-client' }))).toBe(
      'the azp claim names another party',
    );
  });

  it('no iat, an iat in the future beyond CLOCK_SKEW, or one older than LOGOUT_TOKEN_MAX_AGE (plus CLOCK_SKEW), exp or not', async () => {
    expect(await refusedFor(await idp.logoutToken({ iat: undefined }))).toBe('missing required "iat" claim');
    expect(await refusedFor(await idp.logoutToken({ iat: now() + 120, exp: now() + 240 }))).toBe(
      '"iat" claim timestamp check failed (it should be in the past)',
    );
    const old = now() - LOGOUT_TOKEN_MAX_AGE - 60;
    for (const exp of [undefined, now() + 3600]) {
      expect(await refusedFor(await idp.logoutToken({ iat: old, exp }))).toBe('"iat" claim timestamp check failed (too far in the past)');
    }
  });

  it('an expired token, and one not yet valid', async () => {
    expect(await refusedFor(await idp.logoutToken({ iat: now() - 200, exp: now() - 60 }))).toBe('"exp" claim timestamp check failed');
    expect(await refusedFor(await idp.logoutToken({ nbf: now() + 120 }))).toBe('"nbf" claim timestamp check failed');
  });

  it('no jti, or one that is not a well-formed string', async () => {
    expect(await refusedFor(await idp.logoutToken({ jti: undefined }))).toBe('missing required "jti" claim');
    for (const jti of ['', 42, 'a\nb', 'x'.repeat(513)])
      expect(await refusedFor(await idp.logoutToken({ jti }))).toBe('no well-formed jti');
  });

  it('no events claim, another event, or an event whose value is not an object', async () => {
    expect(await refusedFor(await idp.logoutToken({ events: undefined }))).toBe('no events claim');
    expect(await refusedFor(await idp.logoutToken({ events: [EVENT] }))).toBe('no events claim');
    expect(
      await refusedFor(await idp.logoutToken({ events: { 'https://schemas.openid.net/secevent/risc/event-type/sessions-revoked': {} } })),
    ).toBe('the events claim holds no back-channel logout event');
    for (const value of [true, [], null, 'logout']) {
      expect(await refusedFor(await idp.logoutToken({ events: { [EVENT]: value } }))).toBe(
        'the events claim holds no back-channel logout event',
      );
    }
  });

  it('a nonce (what an ID token carries, so neither can pass for the other)', async () => {
    expect(await refusedFor(await idp.logoutToken({ nonce: 'n-1' }))).toBe('a nonce claim is present');
  });

  it('neither sid nor sub, or either not a well-formed string', async () => {
    expect(await refusedFor(await idp.logoutToken({ sid: undefined }))).toBe('neither sid nor sub');
    expect(await refusedFor(await idp.logoutToken({ sid: 7 }))).toBe('the sid claim is not a well-formed string');
    expect(await refusedFor(await idp.logoutToken({ sid: '' }))).toBe('the sid claim is not a well-formed string');
    expect(await refusedFor(await idp.logoutToken({ sid: undefined, sub: '' }))).toBe('the sub claim is not a well-formed string');
    expect(await refusedFor(await idp.logoutToken({ sub: 'a\u0000b' }))).toBe('the sub claim is not a well-formed string');
  });

  it('a typ of another kind of JWT', async () => {
    for (const typ of ['at+jwt', 'secevent+jwt', 42]) {
      expect(await refusedFor(await idp.logoutToken({}, { header: { typ } }))).toBe('the typ header is neither logout+jwt nor JWT');
    }
  });

  it('what is no compact JWS: empty, too long, encrypted (five parts), garbage', async () => {
    expect(await refusedFor('')).toBe('no logout token, or too long');
    expect(await refusedFor('a'.repeat(16 * 1024 + 1))).toBe('no logout token, or too long');
    expect(await refusedFor('a.b.c.d.e')).toBe('not a compact JWS (an encrypted logout token is not supported)');
    expect(await refusedFor('not-a-jwt')).toBe('not a compact JWS (an encrypted logout token is not supported)');
    expect(await refusedFor('a.b.c')).toMatch(/invalid|parse|JSON/i);
  });
});

describe('validateLogoutToken uses each jti once', () => {
  it('in Redis: the second use is refused, and the jti is kept (by its hash) as long as the token could be accepted', async () => {
    const { store, raw, prefix } = await redis.isolated();
    const token = await idp.logoutToken({ jti: 'jti-redis-1' });
    expect(await validate(token, store)).toEqual({ sid: 'op-session-1' });
    expect(await refusedFor(token, store)).toBe('the jti was used before (a replay)');
    // Another token with the same jti too: it is the jti that is used, not the text.
    expect(await refusedFor(await idp.logoutToken({ jti: 'jti-redis-1', sid: 'other' }), store)).toBe('the jti was used before (a replay)');
    const ttl = await raw.ttl(prefix + jtiKey('jti-redis-1'));
    expect(logoutJtiTtl(30)).toBe(LOGOUT_TOKEN_MAX_AGE + 60);
    expect(ttl).toBeGreaterThan(logoutJtiTtl(30) - 10);
    expect(ttl).toBeLessThanOrEqual(logoutJtiTtl(30));
    expect(await raw.keys(`${prefix}*`)).toEqual([prefix + jtiKey('jti-redis-1')]);
  });

  it('in memory: refused while kept, and forgotten after logoutJtiTtl', async () => {
    const clock = new ManualClock();
    const store = memoryStore(clock);
    const token = await idp.logoutToken({ jti: 'jti-memory-1' });
    expect(await validate(token, store)).toEqual({ sid: 'op-session-1' });
    expect(await refusedFor(token, store)).toBe('the jti was used before (a replay)');
    clock.advance(logoutJtiTtl(30) - 1);
    expect(await store.get(jtiKey('jti-memory-1'))).toBe('1');
    clock.advance(2);
    expect(await store.get(jtiKey('jti-memory-1'))).toBeUndefined();
  });

  it('keeps no jti of a token it refused', async () => {
    const { store, raw, prefix } = await redis.isolated();
    await refusedFor(await idp.logoutToken({ jti: 'jti-refused', nonce: 'n' }), store);
    await refusedFor(await idp.logoutToken({ jti: 'jti-forged' }, { foreignKey: true }), store);
    expect(await raw.keys(`${prefix}*`)).toEqual([]);
  });
});

describe('validateLogoutToken and the provider', () => {
  it('refuses an OAuth 2.0 provider (GitHub) as backchannel_unsupported, asking it nothing', async () => {
    const github = configured({
      PROVIDER_CORP_TYPE: 'github',
      PROVIDER_CORP_CLIENT_ID: 'gh-client',
      PROVIDER_CORP_CLIENT_SECRET: 'gh-secret',
    });
    const detail = await rejection(validate(await idp.logoutToken(), memoryStore(), github), BACKCHANNEL_UNSUPPORTED);
    expect(detail.reason).toBe('an OAuth 2.0 provider issues no ID tokens');
  });

  it('refuses an OpenID provider whose discovery names no jwks_uri as backchannel_unsupported', async () => {
    const provider = configured(noKeys.env('corp'));
    const detail = await rejection(validate(await noKeys.logoutToken(), memoryStore(), provider), BACKCHANNEL_UNSUPPORTED);
    expect(detail.reason).toBe('its discovery names no jwks_uri');
  });

  it('answers provider_unavailable when the JWKS cannot be fetched, and keeps no jti', async () => {
    const provider = configured(idp.env('corp'));
    msw.use(http.get(idp.endpoints.jwks, () => HttpResponse.json({ error: 'down' }, { status: 503 })));
    const store = memoryStore();
    const token = await idp.logoutToken({ jti: 'jti-no-keys' });
    const detail = await rejection(validate(token, store, provider), PROVIDER_UNAVAILABLE, token);
    expect(detail).toMatchObject({ url: idp.endpoints.jwks, reason: 'Expected 200 OK from the JSON Web Key Set HTTP response' });
    expect(await store.get(jtiKey('jti-no-keys'))).toBeUndefined();
    // Once the JWKS answers again, the same token is accepted.
    msw.resetHandlers();
    expect(await validate(token, store, provider)).toEqual({ sid: 'op-session-1' });
  });

  it('answers provider_timeout when the JWKS does not answer within PROVIDER_TIMEOUT', async () => {
    const provider = configured({ ...idp.env('corp'), PROVIDER_TIMEOUT: '1' });
    msw.use(http.get(idp.endpoints.jwks, () => new Promise<never>(() => {})));
    const detail = await rejection(validate(await idp.logoutToken(), memoryStore(), provider), PROVIDER_TIMEOUT);
    expect(detail.url).toBe(idp.endpoints.jwks);
  });

  it('answers provider_unavailable when discovery fails, as a login would', async () => {
    const provider = configured(idp.env('corp'));
    msw.use(http.get(`${idp.base}/.well-known/openid-configuration`, () => HttpResponse.text('<html>down</html>', { status: 502 })));
    await rejection(validate(await idp.logoutToken(), memoryStore(), provider), PROVIDER_UNAVAILABLE);
  });
});
