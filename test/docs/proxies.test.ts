import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { blocksCoveredBy } from '../support/code-blocks.js';
import { IDENTITY_HEADERS } from '../../src/http/identity-headers.js';
import { buildTestApp, fromPeer, memoryStore, type TestApp } from '../support/app.js';
import { MockOidcProvider } from '../support/mock-oidc.js';

// docs/proxies.md shows Traefik's and ingress-nginx's configuration, which cannot run here (no
// Traefik in Debian, no Kubernetes). Each YAML block is parsed as a whole document and held to
// what portero does: the address each proxy asks is a route portero serves with the answer that
// proxy needs, the headers it copies are the five /auth sends, and nothing reaches the app
// without asking portero first.

const blocks = blocksCoveredBy('test/docs/proxies.test.ts').map((block) => parse(block.text) as Record<string, unknown>);

/** What the checks read of Traefik's dynamic configuration (file provider). */
interface TraefikConfig {
  readonly http: {
    readonly middlewares: Readonly<Record<string, { readonly forwardAuth?: ForwardAuth }>>;
    readonly routers: Readonly<Record<string, { readonly rule: string; readonly middlewares?: string[]; readonly service: string }>>;
    readonly services: Readonly<Record<string, { readonly loadBalancer: { readonly servers: readonly { readonly url: string }[] } }>>;
  };
}
interface ForwardAuth {
  readonly address: string;
  readonly trustForwardHeader?: boolean;
  readonly authResponseHeaders?: readonly string[];
}
/** What the checks read of a Kubernetes Ingress. */
interface Ingress {
  readonly kind: 'Ingress';
  readonly metadata: { readonly name: string; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec: {
    readonly rules: readonly {
      readonly host: string;
      readonly http: { readonly paths: readonly { readonly backend: { readonly service: { readonly name: string } } }[] };
    }[];
  };
}

const traefik = blocks.filter((block) => typeof block.http === 'object') as unknown as TraefikConfig[];
const ingresses = blocks.filter((block) => block.kind === 'Ingress') as unknown as Ingress[];

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers());
beforeAll(() => msw.listen({ onUnhandledRequest: 'error' }));
afterAll(() => msw.close());

const SITE = 'https://auth.example.com';
let gateway: TestApp;
beforeAll(async () => {
  gateway = await buildTestApp({
    store: memoryStore(),
    env: { ...idp.env('corp'), PUBLIC_URL: SITE, TRUSTED_PROXIES: '10.0.0.0/8', PROVIDER_CORP_ALLOWED_GROUPS: 'admins' },
  });
});

/** What portero answers a stranger at `address` (its path and query), asked by a proxy at 10.0.0.2 about `page`. */
async function askAsProxy(address: string, headers: Record<string, string>): Promise<Response> {
  const url = new URL(address);
  return await gateway.app.request(`${SITE}${url.pathname}${url.search}`, { headers }, fromPeer('10.0.0.2'));
}

const lower = (names: readonly string[]) => names.map((name) => name.toLowerCase());

describe('docs/proxies.md: Traefik', () => {
  it('has one dynamic configuration, with forwardAuth middlewares, routers and services', () => {
    expect(traefik).toHaveLength(1);
  });

  const http = traefik[0]?.http ?? { middlewares: {}, routers: {}, services: {} };
  const forwardAuths = Object.entries(http.middlewares).flatMap(([name, { forwardAuth }]) =>
    forwardAuth ? [[name, forwardAuth] as const] : [],
  );

  it.each(forwardAuths)(
    'middleware %s asks /auth/redirect, which sends a stranger to sign in with a 302, back to the page',
    async (_, forwardAuth) => {
      const { address, trustForwardHeader, authResponseHeaders = [] } = forwardAuth;
      expect(new URL(address).pathname).toBe('/auth/redirect');
      expect(trustForwardHeader).toBe(true);
      expect(lower(authResponseHeaders)).toEqual([...IDENTITY_HEADERS]);
      // Traefik's forwardAuth names the page by X-Forwarded-Proto, -Host and -Uri.
      const response = await askAsProxy(address, {
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'auth.example.com',
        'x-forwarded-uri': '/app/x?y=1',
      });
      expect(response.status).toBe(302);
      const signIn = new URL(response.headers.get('location')!);
      expect(signIn.origin + signIn.pathname).toBe(`${SITE}/`);
      expect(signIn.searchParams.get('return_to')).toBe(`${SITE}/app/x?y=1`);
    },
  );

  it('asks portero at the address of the service its router sends everyone else to', () => {
    const { services } = http;
    const routers = Object.values(http.routers);
    const unprotected = routers.filter((router) => !(router.middlewares ?? []).some((name) => forwardAuths.some(([own]) => own === name)));
    expect(unprotected.map((router) => router.service)).toEqual(['portero']);
    const porteroOrigin = new URL(services.portero?.loadBalancer.servers[0]?.url ?? 'http://missing').origin;
    for (const [, forwardAuth] of forwardAuths) expect(new URL(forwardAuth.address).origin).toBe(porteroOrigin);
    // Every other router goes to a service that is not portero, through a forwardAuth.
    expect(routers.filter((router) => router.service !== 'portero').length).toBeGreaterThan(0);
    for (const router of routers) expect(Object.keys(services)).toContain(router.service);
  });
});

describe('docs/proxies.md: ingress-nginx', () => {
  const protectedOnes = ingresses.filter((ingress) => ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/auth-url']);
  const open = ingresses.filter((ingress) => !protectedOnes.includes(ingress));

  it("has portero's own Ingress and the app's, for one host", () => {
    expect(protectedOnes).toHaveLength(1);
    expect(open).toHaveLength(1);
    const backends = (ingress: Ingress) => ingress.spec.rules.flatMap((rule) => rule.http.paths.map((path) => path.backend.service.name));
    expect(backends(open[0]!)).toEqual(['portero']);
    expect(backends(protectedOnes[0]!)).not.toContain('portero');
    expect(protectedOnes[0]!.spec.rules[0]?.host).toBe(open[0]!.spec.rules[0]?.host);
  });

  it("asks /auth, which answers a stranger 401 (ingress-nginx's auth-signin needs it), and copies exactly the five headers", async () => {
    const annotations = protectedOnes[0]!.metadata.annotations ?? {};
    const authUrl = annotations['nginx.ingress.kubernetes.io/auth-url']!;
    expect(new URL(authUrl).pathname).toBe('/auth');
    // ingress-nginx sends X-Original-URL, and X-Auth-Request-Redirect of its own, which portero must not refuse.
    const response = await askAsProxy(authUrl, { 'x-original-url': `${SITE}/app/`, 'x-auth-request-redirect': '/app/' });
    expect(response.status).toBe(401);
    const headers = annotations['nginx.ingress.kubernetes.io/auth-response-headers']!.split(',').map((name) => name.trim());
    expect(lower(headers)).toEqual([...IDENTITY_HEADERS]);
  });

  it("sends a stranger to portero's sign-in page with the original URL as return_to, which that page passes on", async () => {
    const annotations = protectedOnes[0]!.metadata.annotations ?? {};
    const signIn = new URL(annotations['nginx.ingress.kubernetes.io/auth-signin']!);
    expect(signIn.origin + signIn.pathname).toBe(`${gateway.config.server.publicUrl}/`);
    const param = annotations['nginx.ingress.kubernetes.io/auth-signin-redirect-param']!;
    expect(param).toBe('return_to');
    // What ingress-nginx builds: `<auth-signin>?return_to=$scheme://$host$escaped_request_uri`.
    const page = await gateway.app.request(`${SITE}/?${param}=${SITE}/app/some%3Fx%3D1`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(`return_to=${encodeURIComponent(`${SITE}/app/some?x=1`)}`);
  });
});
