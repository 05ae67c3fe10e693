import { networkInterfaces } from 'node:os';
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

/** An IPv4 address of this machine that is not loopback: where a neighbour would reach it. */
function outsideAddress(): string {
  const address = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry && entry.family === 'IPv4' && !entry.internal)?.address;
  if (!address) throw new Error('this machine has no non-loopback IPv4 address to test against');
  return address;
}

/** How a GET of `url` ended: its status, or the network error's code. */
const reach = (url: string) =>
  fetch(url, { signal: AbortSignal.timeout(2000) }).then(
    (response) => response.status,
    (err: Error) => (err.cause as NodeJS.ErrnoException | undefined)?.code ?? err.message,
  );

describe('what npm start writes in development', () => {
  // Regression: oidc-provider's quick-start notices ("oidc-provider WARNING: ...") came as plain
  // text between the JSON lines, on stderr, at start and at the first sign-in.
  it('is JSON log lines only, the development IdP included, through a sign-in', () => {
    const lines = gateway.logs().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), `not a log line: ${line}`).not.toThrow();
    expect(gateway.logs()).not.toContain('oidc-provider');
    expect(gateway.logLines().find((line) => line.issuer)).toMatchObject({
      level: 'warn',
      msg: expect.stringContaining('its quick-start notices are logged at debug level'),
    });
  });
});

describe('development mode listens on loopback only', () => {
  // Regression: it listened on 0.0.0.0, exposing ephemeral keys and an IdP where any name signs in.
  it('answers on http://localhost:PORT and 127.0.0.1, not on the machine address a neighbour sees', async () => {
    expect(await reach(`http://localhost:${gateway.port}/healthz`)).toBe(200);
    expect(await reach(`http://127.0.0.1:${gateway.port}/healthz`)).toBe(200);
    expect(await reach(`http://${outsideAddress()}:${gateway.port}/healthz`)).toBe('ECONNREFUSED');
  });

  it('answers there when HOST=0.0.0.0 asks for it', async () => {
    const exposed = await startGateway({ env: { HOST: '0.0.0.0' } });
    try {
      expect(await reach(`http://${outsideAddress()}:${exposed.port}/healthz`)).toBe(200);
    } finally {
      await exposed.stop();
    }
  });
});

describe('NODE_ENV=production npm start with no configuration', () => {
  it('starts with a variable that looks like a misspelt setting, and says which one it likely meant', async () => {
    const misspelt = await startGateway({ env: { REDIS_ULR: 'redis://127.0.0.1:1' } });
    try {
      const warning = misspelt.logLines().find((line) => line.event === 'setting_misspelled');
      expect(warning).toMatchObject({
        level: 'warn',
        msg: 'REDIS_ULR is not a setting of portero: did you mean REDIS_URL? (it is ignored)',
      });
    } finally {
      await misspelt.stop();
    }
  });

  it('refuses to start, naming every missing setting on stderr', async () => {
    const { code, stderr } = await runGatewayToExit({ NODE_ENV: 'production' });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    for (const setting of ['REDIS_URL', 'COOKIE_SECRET', 'JWT_KEYS', 'PROVIDER_<ID>_CLIENT_ID']) expect(stderr).toContain(setting);
    expect(stderr).toContain('no provider is configured');
  });
});

describe('npm start with a NODE_ENV it does not know', () => {
  // Regression: NODE_ENV=prod started development mode, the built-in IdP and all.
  it('refuses to start, naming NODE_ENV and the values it takes', async () => {
    const { code, stdout, stderr } = await runGatewayToExit({ NODE_ENV: 'prod' });
    expect(code).toBe(1);
    expect(stderr).toContain('NODE_ENV must be production, development or test (or unset, for development), got "prod"');
    expect(stdout).not.toContain('portero listening');
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
