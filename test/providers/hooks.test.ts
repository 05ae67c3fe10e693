import { decodeJwt } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/parse.js';
import {
  defineProvider,
  idTokenRefused,
  type JsonObject,
  type ProviderRegistry,
  presets,
  type SettingsReader,
} from '../../src/providers/index.js';
import { openIdConnect, standardOidcProfile } from '../../src/providers/oidc.js';
import { type IssuerSettings, readIssuer } from '../../src/providers/settings.js';
import { buildTestApp, memoryStore, type TestApp } from '../support/app.js';
import { setCookieLines, TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// Each hook of the provider type, through a real app, with presets of this test's own: what the
// coming presets (Google's hosted domain, Entra's tenant, Apple's form_post, JWT client secret and
// first-login `user`) will be made of.

const idp = await new MockOidcProvider('https://idp.hooks.test').init();
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const GATEWAY = 'https://gateway.test';

/** What the hooks saw, per test. */
const seen = { idTokenClaims: [] as JsonObject[], clientAuths: 0, callbackParams: [] as Record<string, string>[] };

/** An OpenID Connect preset of this test's own: the shared base, and its issuer from PROVIDER_<ID>_ISSUER. */
const oidcBase = { ...openIdConnect, requiresClientSecret: true, readSettings: (reader: SettingsReader) => readIssuer(reader) } as const;

/** Extra authorization parameters, a per-request client authentication and an ID-token policy. */
const workspace = defineProvider<IssuerSettings>({
  ...oidcBase,
  type: 'workspace',
  displayName: 'Workspace',
  authorizationParams: () => ({
    hd: 'example.com',
    prompt: 'select_account',
    // The flow's own parameters, which no preset may replace.
    client_id: 'another-client',
    response_mode: 'fragment',
    state: 'chosen-by-the-preset',
    nonce: 'chosen-by-the-preset',
    redirect_uri: 'https://evil.example/callback',
    code_challenge_method: 'plain',
    response_type: 'token',
    scope: 'everything',
  }),
  clientAuthentication: (settings) => (_as, client, body) => {
    // As a JWT client secret would be, made at each token request.
    seen.clientAuths++;
    body.set('client_id', client.client_id);
    body.set('client_secret', settings.clientSecret ?? '');
  },
  checkIdToken(claims) {
    seen.idTokenClaims.push(claims);
    if (claims.hd !== 'example.com') throw idTokenRefused(`hosted domain ${String(claims.hd)}`);
  },
  profile: standardOidcProfile,
});

/** The provider posts its answer (form_post), with a `user` parameter the profile reads. */
const posting = defineProvider<IssuerSettings>({
  ...oidcBase,
  type: 'posting',
  displayName: 'Posting',
  responseMode: 'form_post',
  callbackParams: ['user'],
  async profile(source) {
    seen.callbackParams.push({ ...source.callbackParams });
    const profile = await standardOidcProfile(source);
    const user = source.callbackParams.user
      ? (JSON.parse(source.callbackParams.user) as { name?: { firstName?: string; lastName?: string } })
      : {};
    const name = [user.name?.firstName, user.name?.lastName].filter(Boolean).join(' ');
    return name ? { ...profile, name } : profile;
  },
});

const registry: ProviderRegistry = { ...presets, workspace, posting };
const env = (id: 'workspace' | 'posting') => ({
  [`PROVIDER_${id.toUpperCase()}_CLIENT_ID`]: idp.clientId,
  [`PROVIDER_${id.toUpperCase()}_CLIENT_SECRET`]: idp.clientSecret,
  [`PROVIDER_${id.toUpperCase()}_ISSUER`]: idp.issuer,
});

let gateway: TestApp;
beforeEach(async () => {
  seen.idTokenClaims.length = 0;
  seen.clientAuths = 0;
  seen.callbackParams.length = 0;
  gateway = await buildTestApp({ store: memoryStore(), registry, env: { ...env('workspace'), ...env('posting') } });
});
afterEach(() => {
  idp.idTokenOverride = undefined;
});

async function login(browser: TestBrowser, id: string) {
  const response = await browser.get(gateway.app, `${GATEWAY}/login/${id}?return_to=/home`);
  expect(response.status).toBe(302);
  return response;
}

describe('authorizationParams', () => {
  it('adds the preset’s parameters, and none of the flow’s own can be replaced', async () => {
    const url = new URL((await login(new TestBrowser(), 'workspace')).headers.get('location')!);
    const params = url.searchParams;
    expect(params.get('hd')).toBe('example.com');
    expect(params.get('prompt')).toBe('select_account');
    expect(params.get('state')).toMatch(/^[\w-]{43}$/);
    expect(params.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect(params.get('redirect_uri')).toBe(`${GATEWAY}/callback/workspace`);
    expect(params.get('code_challenge_method')).toBe('S256');
    expect(params.get('response_type')).toBe('code');
    expect(params.get('scope')).toBe('openid profile email');
    expect(params.get('client_id')).toBe(idp.clientId);
    expect(params.has('response_mode')).toBe(false);
    for (const name of ['client_id', 'state', 'nonce', 'redirect_uri', 'scope']) expect(params.getAll(name), name).toHaveLength(1);
  });
});

describe('checkIdToken', () => {
  it('sees the validated ID token, and its refusal is a 401 without a token cookie', async () => {
    const browser = new TestBrowser();
    idp.idTokenOverride = (claims) => ({ ...claims, hd: 'elsewhere.example' });
    const refused = await browser.get(
      gateway.app,
      `${GATEWAY}/callback/workspace?${idp.authorize((await login(browser, 'workspace')).headers.get('location')!, { sub: 'u' })}`,
      { accept: 'application/json' },
      { from: idp.issuer },
    );
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'id_token_invalid' });
    expect(setCookieLines(refused).has('__Host-auth_token')).toBe(false);
    expect(gateway.logs.lines.find((line) => line.error)).toMatchObject({
      reason: 'hosted domain elsewhere.example',
      provider: 'workspace',
    });

    idp.idTokenOverride = (claims) => ({ ...claims, hd: 'example.com' });
    const location = (await login(browser, 'workspace')).headers.get('location')!;
    const accepted = await browser.get(gateway.app, `${GATEWAY}/callback/workspace?${idp.authorize(location, { sub: 'u' })}`, undefined, {
      from: idp.issuer,
    });
    expect(accepted.status).toBe(302);
    // What the hook saw had passed openid-client's checks: this login's nonce, this client's audience.
    expect(seen.idTokenClaims.at(-1)).toMatchObject({
      iss: idp.issuer,
      aud: idp.clientId,
      sub: 'u',
      nonce: new URL(location).searchParams.get('nonce'),
    });
  });
});

describe('clientAuthentication', () => {
  it('authenticates each code exchange its own way, at the time of the exchange', async () => {
    idp.idTokenOverride = (claims) => ({ ...claims, hd: 'example.com' });
    const browser = new TestBrowser();
    for (const round of [1, 2]) {
      const location = (await login(browser, 'workspace')).headers.get('location')!;
      expect(seen.clientAuths, 'nothing is authenticated before the callback').toBe(round - 1);
      const done = await browser.get(gateway.app, `${GATEWAY}/callback/workspace?${idp.authorize(location, { sub: 'u' })}`, undefined, {
        from: idp.issuer,
      });
      expect(done.status).toBe(302);
      expect(seen.clientAuths).toBe(round);
      // The form body, where portero's default for this provider (both methods listed) is HTTP Basic.
      expect(idp.tokenRequests.at(-1)?.clientAuth).toBe('client_secret_post');
    }
  });
});

describe('responseMode form_post, with callbackParams', () => {
  it('asks for form_post and binds the browser with a SameSite=None flow cookie, still __Host-, HttpOnly and Secure', async () => {
    const response = await login(new TestBrowser(), 'posting');
    expect(new URL(response.headers.get('location')!).searchParams.get('response_mode')).toBe('form_post');
    const [flowCookie, ...others] = response.headers.getSetCookie();
    expect(others).toEqual([]);
    expect(flowCookie).toMatch(/^__Host-portero_flow_[\w-]{16}=/);
    expect(flowCookie).toContain('SameSite=None');
    expect(flowCookie).toContain('Secure');
    expect(flowCookie).toContain('HttpOnly');
    expect(flowCookie).toContain('Path=/');
  });

  it('completes the login the provider posts from its own site, with only the parameters the preset asked for', async () => {
    const browser = new TestBrowser();
    const location = (await login(browser, 'posting')).headers.get('location')!;
    const form = idp.authorize(location, { sub: 'apple-user' });
    form.set('user', JSON.stringify({ name: { firstName: 'Ada', lastName: 'Lovelace' }, email: 'ada@example.com' }));
    form.set('unasked', 'not for the profile');
    const done = await browser.request(gateway.app, `${GATEWAY}/callback/posting`, {
      method: 'POST',
      from: idp.issuer,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect(done.status, await done.clone().text()).toBe(302);
    expect(done.headers.get('location')).toBe(`${GATEWAY}/home`);
    const token = (await browser.cookie(GATEWAY, '__Host-auth_token'))!.value;
    expect(decodeJwt(token)).toMatchObject({ sub: 'posting:apple-user', name: 'Ada Lovelace' });
    expect(seen.callbackParams).toEqual([{ user: form.get('user') }]);
  });

  it('is refused at start-up without https: browsers keep SameSite=None cookies only with Secure', () => {
    const problems = (() => {
      try {
        parseConfig({ ...env('posting'), PUBLIC_URL: 'http://localhost:3000' }, registry);
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    })();
    expect(problems).toEqual([
      'provider posting answers by form_post, which needs an https PUBLIC_URL (its flow cookie must be SameSite=None; Secure)',
    ]);
  });
});
