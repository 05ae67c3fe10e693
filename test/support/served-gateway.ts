import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { http, passthrough } from 'msw';
import { expect } from 'vitest';
import type { KeySet } from '../../src/tokens/keys.js';
import type { Clock } from '../../src/clock.js';
import { buildTestApp, memoryStore, type TestApp } from './app.js';
import { TestBrowser } from './browser.js';
import type { MockOidcProvider } from './mock-oidc.js';
import { freePort } from './redis-server.js';

/**
 * msw sees this process's own `fetch` too, so the verifier's JWKS request to the gateway and the
 * test's requests to backends on loopback would count as unhandled. Loopback is real here: let it out.
 * Everything else (the provider) stays mocked, and anything unexpected still fails the test.
 */
export const loopbackIsReal = http.all(/^http:\/\/127\.0\.0\.1:\d+\//, () => passthrough());

export interface GatewayOptions {
  /** Environment variables, as an operator would set them (PUBLIC_URL is the served origin). */
  env?: Record<string, string>;
  keys?: KeySet;
  clock?: Clock;
}

/** A real gateway served over HTTP on 127.0.0.1, as downstream backends reach it. */
export interface ServedGateway {
  readonly origin: string;
  /** `issuer` of its discovery document. */
  readonly issuer: string;
  /** `jwks_uri` of its discovery document. */
  readonly jwksUrl: string;
  /** How many times its JWKS was fetched over HTTP. */
  readonly jwksFetches: number;
  readonly app: TestApp;
  /** A real sign-in at the mock provider (the browser reaches the gateway in-process): the `auth_token` cookie it ends with. */
  signIn(sub: string, claims?: Record<string, unknown>): Promise<string>;
  /** Restarts the gateway with other settings or keys, on the same origin (a deploy, a key rotation). */
  rebuild(options: GatewayOptions): Promise<void>;
  close(): Promise<void>;
}

export async function serveGateway(idp: MockOidcProvider, options: GatewayOptions = {}): Promise<ServedGateway> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const build = (opts: GatewayOptions) =>
    buildTestApp({
      store: memoryStore(opts.clock),
      env: { ...idp.env('corp'), PUBLIC_URL: origin, ...opts.env },
      ...(opts.keys ? { keys: opts.keys } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
  let current = await build(options);
  let jwksFetches = 0;
  const server = await new Promise<ServerType>((resolve) => {
    const listening: ServerType = serve(
      {
        fetch: (request: Request) => {
          if (new URL(request.url).pathname === '/.well-known/jwks.json') jwksFetches += 1;
          return current.app.fetch(request);
        },
        port,
        hostname: '127.0.0.1',
      },
      () => resolve(listening),
    );
  });
  expect((server.address() as AddressInfo).port).toBe(port);

  const discovery = (await (await current.app.request(`${origin}/.well-known/openid-configuration`)).json()) as {
    issuer: string;
    jwks_uri: string;
  };
  const inProcess = { fetch: (request: Request) => current.app.request(request) };

  return {
    origin,
    issuer: discovery.issuer,
    jwksUrl: discovery.jwks_uri,
    get jwksFetches() {
      return jwksFetches;
    },
    get app() {
      return current;
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
    async rebuild(next) {
      current = await build(next);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}

/** The same token with claims changed and the signature kept, as a forger would try. */
export function tamper(token: string, change: Record<string, unknown>): string {
  const [header, payload, signature] = token.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), ...change };
  return [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
}

/** A loopback URL nothing listens on: a gateway that is down. */
export async function deadUrl(path = '/.well-known/jwks.json'): Promise<string> {
  return `http://127.0.0.1:${await freePort()}${path}`;
}
