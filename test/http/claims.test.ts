import { decodeJwt } from 'jose';
import { http } from 'msw';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import { RESERVED_CLAIMS } from '../../src/shared/token-shape.js';
import { createVerifier } from '../../src/verify/index.js';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider, type MockUser } from '../support/mock-oidc.js';

// PROVIDER_<ID>_CLAIMS: more of the provider's claims, copied into the token for the apps behind
// portero, bounded so the token cookie always fits (src/flow/extra-claims.ts).

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
const GATEWAY = 'https://gateway.test';
const TOKEN_COOKIE = '__Host-auth_token';

beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const gatewayWith = (env: Record<string, string>) => buildTestApp({ store: memoryStore(), env: { ...idp.env('corp'), ...env } });

/** A whole sign-in as `user`: the callback's answer, its token cookie line, and the token. */
async function signInAs(gateway: TestApp, user: MockUser) {
  const browser = new TestBrowser();
  const login = await browser.get(gateway.app, `${GATEWAY}/login/corp`);
  const response = await browser.get(gateway.app, `${GATEWAY}/callback/corp?${idp.authorize(login.headers.get('location')!, user)}`);
  const setCookie = response.headers.getSetCookie().find((line) => line.startsWith(`${TOKEN_COOKIE}=`));
  const token = await browser.cookie(GATEWAY, TOKEN_COOKIE);
  return { response, setCookie, token: token?.value };
}

/** `portero/verify`, as a downstream app runs it, fetching the keys this gateway publishes. */
function verifiedByApp(gateway: TestApp, token: string) {
  const jwks = `${GATEWAY}/.well-known/jwks.json`;
  msw.use(http.get(jwks, () => gateway.app.request(jwks)));
  return createVerifier({ issuer: GATEWAY }).verify(token);
}

describe('PROVIDER_<ID>_CLAIMS', () => {
  it('copies the named claims from the ID token and userinfo into the token, as they are', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_CLAIMS: 'roles, department,level,active,https://corp.example/tenant' });
    const requestsBefore = idp.userinfoRequests;
    const { response, token } = await signInAs(gateway, {
      sub: 'ada',
      claims: { email: 'ada@corp.example', email_verified: true, roles: ['admin', 'dev'], level: 3, unasked: 'not copied' },
      userinfoClaims: { department: 'R&D', active: true, 'https://corp.example/tenant': 't-1' },
    });
    expect(response.status).toBe(302);
    const claims = decodeJwt(token!);
    expect(claims).toMatchObject({
      roles: ['admin', 'dev'],
      level: 3,
      department: 'R&D',
      active: true,
      'https://corp.example/tenant': 't-1',
    });
    expect(claims).not.toHaveProperty('unasked');
    // Userinfo is asked once a login: the preset and the extra claims read the same answer.
    expect(idp.userinfoRequests - requestsBefore).toBe(1);
    // What the app sees, and /userinfo.
    expect(await verifiedByApp(gateway, token!)).toMatchObject({ roles: ['admin', 'dev'], department: 'R&D' });
    const userinfo = await gateway.app.request(`${GATEWAY}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
    expect(await userinfo.json()).toMatchObject({ roles: ['admin', 'dev'], level: 3 });
  });

  it('carries nothing more without it', async () => {
    const gateway = await gatewayWith({});
    const { token } = await signInAs(gateway, { sub: 'ada', claims: { roles: ['admin'] } });
    expect(Object.keys(decodeJwt(token!)).sort()).toEqual(['exp', 'iat', 'iss', 'jti', 'provider', 'sid', 'sub']);
  });

  it('keeps the cookie under 4 KB for a user in 500 groups with a huge claim: the named groups, the claims that fit', async () => {
    const gateway = await gatewayWith({
      PROVIDER_CORP_ALLOWED_GROUPS: 'group-7,group-123',
      PROVIDER_CORP_CLAIMS: 'groups,roles,bio,team',
      JWT_ALG: 'RS256',
    });
    const groups = Array.from({ length: 500 }, (_, i) => `group-${i}-${'x'.repeat(20)}`).concat(['group-7', 'group-123']);
    const { response, setCookie, token } = await signInAs(gateway, {
      sub: 'ada',
      claims: {
        email: 'ada@corp.example',
        email_verified: true,
        name: 'Ada Lovelace',
        groups,
        roles: groups.slice(0, 40),
        bio: 'x'.repeat(20_000),
        team: 'blue',
      },
    });
    expect(response.status).toBe(302);
    // The whole Set-Cookie line, attributes included, which is what a browser measures.
    expect(Buffer.byteLength(setCookie!)).toBeLessThan(4096);
    const claims = decodeJwt(token!);
    expect(claims.groups).toEqual(['group-7', 'group-123']);
    // 40 roles of 27 characters and the biography do not fit: each left out whole, never cut.
    expect(claims).not.toHaveProperty('roles');
    expect(claims).not.toHaveProperty('bio');
    expect(claims).toMatchObject({ team: 'blue', name: 'Ada Lovelace', email: 'ada@corp.example' });
    expect(gateway.logs.lines.find((line) => line.path === '/callback/corp')).toMatchObject({ status: 302, claims_left_out: 'roles,bio' });
    expect(gateway.logs.raw.join('\n')).not.toContain('xxxxxxxxxxxxxxxxxxxx');

    // The token works: at /auth, which hands the app the groups, and in the app's verifier.
    const auth = await gateway.app.request(`${GATEWAY}/auth`, { headers: { authorization: `Bearer ${token}` } });
    expect(auth.status).toBe(200);
    expect(auth.headers.get('x-auth-request-groups')).toBe('group-7,group-123');
    expect(await verifiedByApp(gateway, token!)).toMatchObject({ team: 'blue', groups: ['group-7', 'group-123'] });
  });

  it('carries all the user’s groups with _CLAIMS=groups and no group rule, at /auth too', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_CLAIMS: 'groups' });
    const { token } = await signInAs(gateway, { sub: 'ada', claims: { groups: ['staff', 'ops', 'Admins'] } });
    expect(decodeJwt(token!).groups).toEqual(['staff', 'ops', 'Admins']);
    const auth = await gateway.app.request(`${GATEWAY}/auth?allowed_groups=admins`, { headers: { authorization: `Bearer ${token}` } });
    expect(auth.status).toBe(200);
    expect(auth.headers.get('x-auth-request-groups')).toBe('staff,ops,Admins');
  });

  it('leaves a user’s 500 groups out whole, without a group rule to name the ones that matter, and says so', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_CLAIMS: 'groups,team', JWT_ALG: 'RS256' });
    const groups = Array.from({ length: 500 }, (_, i) => `group-${i}-${'x'.repeat(20)}`);
    const { response, setCookie, token } = await signInAs(gateway, { sub: 'ada', claims: { groups, team: 'blue' } });
    expect(response.status).toBe(302);
    expect(Buffer.byteLength(setCookie!)).toBeLessThan(4096);
    expect(decodeJwt(token!)).not.toHaveProperty('groups');
    expect(decodeJwt(token!)).toMatchObject({ team: 'blue' });
    expect(gateway.logs.lines.find((line) => line.path === '/callback/corp')).toMatchObject({ status: 302, claims_left_out: 'groups' });
    // An app's rule on a group then refuses, rather than guessing from a list cut short.
    const auth = await gateway.app.request(`${GATEWAY}/auth?allowed_groups=group-1-${'x'.repeat(20)}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(auth.status).toBe(403);
  });

  it('carries the claims that fit when several together would not, in the order named', async () => {
    const gateway = await gatewayWith({ PROVIDER_CORP_CLAIMS: 'a,b,c,d' });
    const part = (letter: string) => letter.repeat(400);
    const { response, setCookie, token } = await signInAs(gateway, {
      sub: 'ada',
      claims: { a: part('a'), b: part('b'), c: part('c'), d: 'd' },
    });
    expect(response.status).toBe(302);
    expect(Buffer.byteLength(setCookie!)).toBeLessThan(4096);
    expect(decodeJwt(token!)).toMatchObject({ a: part('a'), b: part('b'), d: 'd' });
    expect(decodeJwt(token!)).not.toHaveProperty('c');
  });
});

describe('PROVIDER_<ID>_CLAIMS at start-up', () => {
  const problemsOf = (claims: string) => {
    try {
      parseConfig({ ...idp.env('corp'), PROVIDER_CORP_CLAIMS: claims });
      return [];
    } catch (err) {
      return (err as ConfigError).problems;
    }
  };

  it('refuses a name portero sets itself, in any case, each named', () => {
    expect(problemsOf('roles,sub,Email,exp')).toEqual([
      'PROVIDER_CORP_CLAIMS names "sub", which portero sets itself: it is never copied from a provider',
      'PROVIDER_CORP_CLAIMS names "Email", which portero sets itself: it is never copied from a provider',
      'PROVIDER_CORP_CLAIMS names "exp", which portero sets itself: it is never copied from a provider',
    ]);
    for (const name of RESERVED_CLAIMS) {
      if (name !== 'groups') expect(problemsOf(name), name).toHaveLength(1);
    }
    expect([...RESERVED_CLAIMS]).toEqual(
      expect.arrayContaining(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'sid', 'provider', 'email', 'email_verified', 'name']),
    );
    expect([...RESERVED_CLAIMS]).toEqual(expect.arrayContaining(['preferred_username', 'picture', 'nonce', 'azp', 'cnf', 'scope']));
  });

  it('takes groups once, as the user’s groups for the flow to carry', () => {
    expect(problemsOf('groups,roles')).toEqual([]);
    expect(problemsOf('groups,Groups')).toEqual(['PROVIDER_CORP_CLAIMS names "groups" twice']);
  });

  it('refuses what is no claim name, and a name given twice', () => {
    expect(problemsOf('roles,my roles,"x",roles')).toEqual([
      'PROVIDER_CORP_CLAIMS entry "my roles" is not a claim name (letters, digits and _ . : / -, at most 128)',
      'PROVIDER_CORP_CLAIMS entry "\\"x\\"" is not a claim name (letters, digits and _ . : / -, at most 128)',
      'PROVIDER_CORP_CLAIMS names "roles" twice',
    ]);
    expect(problemsOf('x'.repeat(129))).toHaveLength(1);
  });

  it('takes namespaced and ordinary names, in the order given', () => {
    const [provider] = parseConfig({
      ...idp.env('corp'),
      PROVIDER_CORP_CLAIMS: ' roles , https://corp.example/tenant,department,',
    }).providers;
    expect(provider?.claims).toEqual(['roles', 'https://corp.example/tenant', 'department']);
  });
});
