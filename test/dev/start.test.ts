import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { network, setCookieLines, TestBrowser } from '../support/browser.js';
import { unescapeHtml } from '../support/html.js';
import { signInAtOp } from '../support/oidc-op.js';
import { runGatewayToExit, startGateway, type GatewayProcess } from '../support/process.js';

// A newcomer clones the repository and types `npm start`: no .env, no Redis, no provider.
// The gateway must come up in development mode with its built-in IdP, and a sign-in must work.

let gateway: GatewayProcess;

beforeAll(async () => {
  gateway = await startGateway();
});
afterAll(async () => {
  await gateway?.stop();
});

describe('npm start with no configuration', () => {
  it('listens on PORT and warns loudly, in a JSON log line, that it runs in development mode', () => {
    const warning = gateway.logLines().find((line) => String(line.msg).includes('DEVELOPMENT MODE'));
    expect(warning, `no DEVELOPMENT MODE line in:\n${gateway.logs()}`).toMatchObject({ level: 'warn' });
    const listening = gateway.logLines().find((line) => line.msg === 'portero listening');
    expect(listening).toMatchObject({ port: gateway.port, public_url: gateway.url, providers: ['dev'] });
  });

  it('signs "ada" in through the built-in development IdP, end to end over HTTP', async () => {
    const browser = new TestBrowser();
    const home = await browser.get(network, `${gateway.url}/`);
    expect(home.status).toBe(200);
    const signIn = await home.text();
    expect(signIn).toContain('Development IdP');
    expect(signIn).toContain('href="/login/dev"');

    // portero sends the browser to the IdP whose address it logged at start.
    const login = await browser.get(network, `${gateway.url}/login/dev`);
    expect(login.status).toBe(302);
    const authorize = new URL(login.headers.get('location')!);
    const idp = gateway.logLines().find((line) => typeof line.issuer === 'string')!.issuer as string;
    expect(authorize.origin).toBe(new URL(idp).origin);
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${gateway.url}/callback/dev`);

    // The IdP's sign-in and consent forms, with any password, then back to portero with a code.
    const callbackUrl = await signInAtOp(browser, authorize, 'ada', 'anything');
    expect(callbackUrl.origin + callbackUrl.pathname).toBe(`${gateway.url}/callback/dev`);
    expect(callbackUrl.searchParams.get('code')).toBeTruthy();

    const callback = await browser.get(network, callbackUrl);
    expect(callback.status, await callback.clone().text()).toBe(302);
    expect(callback.headers.get('location')).toBe(`${gateway.url}/`);
    const tokenLine = setCookieLines(callback).get('auth_token')!;
    expect(tokenLine).toContain('HttpOnly');
    expect(tokenLine).toContain('SameSite=Lax');
    expect(tokenLine).not.toContain('Secure');

    // Signed in: the home page names ada and shows the token's claims.
    const signedIn = await browser.get(network, `${gateway.url}/`);
    const page = unescapeHtml(await signedIn.text());
    expect(page).toContain('Signed in as ada');
    expect(page).toContain('"sub": "dev:ada"');
    expect(page).toContain('"provider": "dev"');
    expect(page).toContain('"email": "ada@example.test"');

    // An API client presents the same token as a bearer token.
    const token = (await browser.cookie(gateway.url, 'auth_token'))!.value;
    const userinfo = await fetch(`${gateway.url}/userinfo`, { headers: { authorization: `Bearer ${token}` } });
    expect(userinfo.status).toBe(200);
    expect(userinfo.headers.get('content-type')).toContain('application/json');
    expect(await userinfo.json()).toMatchObject({ iss: gateway.url, sub: 'dev:ada', provider: 'dev', email: 'ada@example.test' });
  });
});

describe('NODE_ENV=production npm start with no configuration', () => {
  it('refuses to start, naming every missing setting on stderr', async () => {
    const { code, stderr } = await runGatewayToExit({ NODE_ENV: 'production' });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    for (const setting of ['REDIS_URL', 'COOKIE_SECRET', 'JWT_KEYS', 'PROVIDER_<ID>_CLIENT_ID']) expect(stderr).toContain(setting);
    expect(stderr).toContain('no provider is configured');
  });
});

describe('npm start with a JWT_KEYS file that cannot be read', () => {
  // Regression: the error escaped main() as a stack trace, after the development IdP had started.
  it('refuses to start with one line naming the file, before starting anything', async () => {
    const { code, stdout, stderr } = await runGatewayToExit({ JWT_KEYS: '/nonexistent/portero-keys.json' });
    expect(code).toBe(1);
    expect(stderr).toContain('portero cannot start: JWT_KEYS: cannot read /nonexistent/portero-keys.json');
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stdout).not.toContain('development IdP started');
    expect(stdout).not.toContain('portero listening');
  });
});
