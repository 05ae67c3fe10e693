import { SignJWT, type JWTPayload } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// Each check OpenID Connect Core 3.1.3.7 asks of an ID token, by a real token the provider's token
// endpoint serves (signed with jose, or unsigned by hand), through the real callback, so
// openid-client's own validation runs, with CLOCK_SKEW as its tolerance. Each refusal ends at the
// id_token_invalid page with no portero token.

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';
const REFUSED_TITLE = 'The sign-in provider sent an identity we cannot trust';

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());
afterEach(() => msw.resetHandlers());
beforeEach(() => {
  idp.idTokenOverride = undefined;
  idp.signIdToken = undefined;
  idp.signWithForeignKey = false;
});

const gatewayWith = (env: Record<string, string> = {}) => buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), ...env } });

/** A sign-in through `gateway` whose ID token the provider makes as arranged. */
async function signIn(gateway: TestApp, headers?: HeadersInit): Promise<Response> {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp?return_to=/after`);
  expect(login.status).toBe(302);
  const callback = idp.authorize(login.headers.get('location')!, { sub: 'u' });
  return browser.get(gateway.app, `${GATEWAY}/callback/corp?${callback}`, headers);
}

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** An unsigned JWT, as RFC 7519 6.1 describes it: `alg: none` and an empty signature. */
const unsigned = (claims: JWTPayload) => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`;
/** A JWT signed with HMAC and the client secret, which any holder of the secret could make. */
const hs256WithClientSecret = (claims: JWTPayload) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(idp.clientSecret));

const shifted = (claim: 'iat' | 'nbf' | 'exp', seconds: number) => (claims: JWTPayload) => {
  const iat = claims.iat!;
  if (claim === 'exp') return { ...claims, iat: iat + seconds - 300, exp: iat + seconds };
  if (claim === 'iat') return { ...claims, iat: iat + seconds, exp: iat + seconds + 300 };
  return { ...claims, nbf: iat + seconds };
};

async function expectRefused(gateway: TestApp, response: Response, reason: RegExp): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get('content-type')).toContain('text/html');
  const page = await response.text();
  expect(page).toContain(REFUSED_TITLE);
  expect(page).toContain('Start again');
  expect(response.headers.getSetCookie().some((line) => line.startsWith('__Host-auth_token='))).toBe(false);
  const line = gateway.logs.lines.filter((entry) => entry.error).at(-1);
  expect(line).toMatchObject({ error: 'id_token_invalid', provider: 'corp', status: 401 });
  expect(String(line?.reason)).toMatch(reason);
}

async function expectSignedIn(response: Response): Promise<void> {
  expect(response.status, await response.clone().text()).toBe(302);
  expect(response.headers.get('location')).toBe(`${GATEWAY}/after`);
  expect(response.headers.getSetCookie().some((line) => line.startsWith('__Host-auth_token='))).toBe(true);
}

describe('an ID token that does not hold up is refused: 401, the id_token_invalid page, no token', () => {
  const cases: [string, () => void, RegExp][] = [
    ['unsigned (alg: none)', () => (idp.signIdToken = unsigned), /"alg"/],
    ['HS256 signed with the client secret, where discovery says RS256', () => (idp.signIdToken = hs256WithClientSecret), /"alg"/],
    ['signed by a key the provider does not publish', () => (idp.signWithForeignKey = true), /signature|key/i],
    ['for another audience', () => (idp.idTokenOverride = (claims) => ({ ...claims, aud: 'someone-else' })), /aud/],
    [
      'for several audiences, ours among them, without azp',
      () => (idp.idTokenOverride = (claims) => ({ ...claims, aud: [idp.clientId, 'another-client'] })),
      /untrusted audiences/,
    ],
    [
      'for several audiences, ours among them, authorized for another party (azp)',
      () => (idp.idTokenOverride = (claims) => ({ ...claims, aud: [idp.clientId, 'another-client'], azp: 'another-client' })),
      /azp/,
    ],
    ['expired more than CLOCK_SKEW ago', () => (idp.idTokenOverride = shifted('exp', -60)), /"exp"/],
    ['issued (iat) more than CLOCK_SKEW in the future', () => (idp.idTokenOverride = shifted('iat', 60)), /iat/],
    ['not valid before (nbf) more than CLOCK_SKEW from now', () => (idp.idTokenOverride = shifted('nbf', 60)), /"nbf"/],
    ['with another nonce than the login sent', () => (idp.idTokenOverride = (claims) => ({ ...claims, nonce: 'not-the-nonce' })), /nonce/],
    ['without the nonce', () => (idp.idTokenOverride = ({ nonce: _nonce, ...claims }) => claims), /nonce/],
    ['from another issuer', () => (idp.idTokenOverride = (claims) => ({ ...claims, iss: 'https://evil.example.test' })), /"iss"/],
  ];
  for (const [what, arrange, reason] of cases) {
    it(`an ID token ${what}`, async () => {
      const gateway = await gatewayWith();
      arrange();
      await expectRefused(gateway, await signIn(gateway), reason);
    });
  }

  it('answers an API client with JSON', async () => {
    const gateway = await gatewayWith();
    idp.signIdToken = unsigned;
    const response = await signIn(gateway, { accept: 'application/json' });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: 'id_token_invalid', error_description: REFUSED_TITLE });
  });

  it('the audience may be an array holding only us, or with azp naming us (the harness accepts good tokens)', async () => {
    const gateway = await gatewayWith();
    idp.idTokenOverride = (claims) => ({ ...claims, aud: [idp.clientId] });
    await expectSignedIn(await signIn(gateway));
    idp.idTokenOverride = (claims) => ({ ...claims, aud: [idp.clientId, 'another-client'], azp: idp.clientId });
    await expectSignedIn(await signIn(gateway));
  });
});

describe('CLOCK_SKEW is the tolerance on the ID token’s times', () => {
  const withinSkew: [string, (claims: JWTPayload) => JWTPayload][] = [
    ['issued 10 s in the future', shifted('iat', 10)],
    ['valid from 10 s in the future', shifted('nbf', 10)],
    ['expired 10 s ago', shifted('exp', -10)],
  ];
  for (const [what, override] of withinSkew) {
    it(`a token ${what} signs in with CLOCK_SKEW=30 (the default), and is refused with CLOCK_SKEW=0`, async () => {
      idp.idTokenOverride = override;
      await expectSignedIn(await signIn(await gatewayWith()));
      const strict = await gatewayWith({ CLOCK_SKEW: '0' });
      await expectRefused(strict, await signIn(strict), /iat|nbf|exp/);
    });
  }

  it('a token issued and valid from 60 s in the future signs in with CLOCK_SKEW=120', async () => {
    idp.idTokenOverride = (claims) => ({ ...shifted('iat', 60)(claims), nbf: claims.iat! + 60 });
    await expectSignedIn(await signIn(await gatewayWith({ CLOCK_SKEW: '120' })));
  });
});
