import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, ManualClock, memoryStore, type TestApp } from '../support/app.js';
import { TestBrowser } from '../support/browser.js';
import { MockOidcProvider } from '../support/mock-oidc.js';
import type { Exited } from '../support/process.js';
import { assertPythonJwt, runPython } from '../support/python.js';
import { freePort } from '../support/redis-server.js';

// A downstream backend that is not written in TypeScript checks portero's tokens with its own JWT
// library: here Python's PyJWT, fetching the keys from the gateway over real HTTP, exactly as
// examples/python/verify_token.py shows. It must accept every algorithm portero signs with.

const SCRIPT = fileURLToPath(new URL('../../examples/python/verify_token.py', import.meta.url));

const idp = await new MockOidcProvider().init();
// Only the provider is mocked. The browser reaches the gateway in-process; only Python uses the
// network, from its own process, which msw does not see.
const msw = setupServer(...idp.handlers());

beforeAll(() => {
  assertPythonJwt();
  msw.listen({ onUnhandledRequest: 'error' });
});
afterAll(() => msw.close());

interface ServedGateway extends TestApp {
  readonly origin: string;
  /** The gateway's discovery document, as a backend reads it to configure its verifier. */
  discovery(): Promise<{ issuer: string; jwks_uri: string }>;
  /** A real sign-in at the mock provider; the `auth_token` cookie the browser ends up with. */
  signIn(sub: string, claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

/** A real app served over HTTP on 127.0.0.1, so a process of another language can fetch its keys. */
async function serveGateway(env: Record<string, string>, clock?: ManualClock): Promise<ServedGateway> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const gateway = await buildTestApp({
    store: memoryStore(clock),
    env: { ...idp.env('corp'), PUBLIC_URL: origin, ...env },
    ...(clock ? { clock } : {}),
  });
  const server = await new Promise<ServerType>((resolve) => {
    const listening: ServerType = serve({ fetch: gateway.app.fetch, port, hostname: '127.0.0.1' }, () => resolve(listening));
  });
  expect((server.address() as AddressInfo).port).toBe(port);
  const inProcess = { fetch: (request: Request) => gateway.app.request(request) };

  return {
    ...gateway,
    origin,
    async discovery() {
      const response = await gateway.app.request(`${origin}/.well-known/openid-configuration`);
      expect(response.status).toBe(200);
      return response.json();
    },
    async signIn(sub, claims) {
      const browser = new TestBrowser();
      const login = await browser.get(inProcess, `${origin}/login/corp`);
      expect(login.status).toBe(302);
      const callback = idp.authorize(login.headers.get('location')!, { sub, ...(claims ? { claims } : {}) });
      const done = await browser.get(inProcess, `${origin}/callback/corp?${callback}`);
      expect(done.status, await done.clone().text()).toBe(302);
      return (await browser.cookie(origin, 'auth_token'))!.value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}

/** Runs examples/python/verify_token.py. Asynchronous: the JWKS it fetches is served by this process. */
const verifyInPython = (...args: string[]) => runPython(SCRIPT, ...args);

function acceptedClaims(result: Exited): Record<string, unknown> {
  expect(result.code, `Python refused the token: ${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

/** The one-line reason Python printed for refusing a token. */
function refusal(result: Exited): string {
  expect(result.code, `Python accepted the token:\n${result.stdout}`).toBe(1);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** The same token with one claim changed and the signature kept, as a forger would try. */
function tamper(token: string, change: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), ...change };
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

describe.each(['ES256', 'EdDSA', 'RS256'] as const)('PyJWT verifies %s tokens', (alg) => {
  let gateway: ServedGateway;
  beforeAll(async () => {
    gateway = await serveGateway({ JWT_ALG: alg });
  });
  afterAll(() => gateway.close());

  it('with the issuer and jwks_uri of the discovery document, fetching the keys over HTTP', async () => {
    const discovery = await gateway.discovery();
    expect(discovery.issuer).toBe(gateway.origin);
    expect(discovery.jwks_uri).toBe(`${gateway.origin}/.well-known/jwks.json`);

    const token = await gateway.signIn('u-7', { email: 'grace@example.com', email_verified: true, name: 'Grace Hopper' });
    expect(decodeProtectedHeader(token).alg).toBe(alg);
    const claims = acceptedClaims(await verifyInPython(token, discovery.jwks_uri, discovery.issuer));
    expect(claims).toMatchObject({ iss: gateway.origin, sub: 'corp:u-7', provider: 'corp', email: 'grace@example.com', name: 'Grace Hopper' });
    expect(claims).toEqual(decodeJwt(token));
  });

  it('and refuses the token with a claim changed', async () => {
    const { jwks_uri, issuer } = await gateway.discovery();
    const forged = tamper(await gateway.signIn('u-8'), { sub: 'corp:admin' });
    expect(refusal(await verifyInPython(forged, jwks_uri, issuer))).toMatch(/^token refused: InvalidSignatureError/);
  });

  it('and refuses a token from another issuer', async () => {
    const { jwks_uri } = await gateway.discovery();
    const token = await gateway.signIn('u-9');
    expect(refusal(await verifyInPython(token, jwks_uri, 'https://someone-else.example'))).toMatch(/^token refused: InvalidIssuerError/);
  });
});

describe('PyJWT with JWT_AUDIENCE=downstream-app', () => {
  let gateway: ServedGateway;
  beforeAll(async () => {
    gateway = await serveGateway({ JWT_AUDIENCE: 'downstream-app' });
  });
  afterAll(() => gateway.close());

  it('accepts the token for that audience', async () => {
    const { jwks_uri, issuer } = await gateway.discovery();
    const claims = acceptedClaims(await verifyInPython(await gateway.signIn('u-1'), jwks_uri, issuer, 'downstream-app'));
    expect(claims).toMatchObject({ aud: 'downstream-app', sub: 'corp:u-1', iss: gateway.origin });
  });

  it('refuses it for another audience', async () => {
    const { jwks_uri, issuer } = await gateway.discovery();
    const result = await verifyInPython(await gateway.signIn('u-1'), jwks_uri, issuer, 'another-app');
    expect(refusal(result)).toMatch(/^token refused: InvalidAudienceError/);
  });
});

describe('PyJWT and time', () => {
  it('refuses a token whose hour is over', async () => {
    // The gateway's clock runs two hours behind: the token it issues expired an hour ago.
    const clock = new ManualClock();
    clock.advance(-2 * 3600);
    const gateway = await serveGateway({}, clock);
    try {
      const { jwks_uri, issuer } = await gateway.discovery();
      const result = await verifyInPython(await gateway.signIn('u-1'), jwks_uri, issuer);
      expect(refusal(result)).toMatch(/^token refused: ExpiredSignatureError/);
    } finally {
      await gateway.close();
    }
  });
});
