import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { isPorteroError, UNAUTHENTICATED } from '../../errors.js';
import type { PorteroClaims } from '../../shared/claims.js';
import type { KeySet } from '../../tokens/keys.js';
import type { HttpDeps } from '../deps.js';
import { pageContext } from '../layout.js';
import { FAVICON_SVG } from '../marks.js';
import { type ProviderLink, signInPage, signedInPage } from '../pages.js';
import type { AppEnv } from '../types.js';

/** The configured providers as the sign-in page lists them: by id, each with its name and type (its mark). */
const signInLinks = (deps: HttpDeps): ProviderLink[] =>
  [...deps.login.providers.values()].map(({ id, displayName, definition }) => ({ id, displayName, type: definition.type }));

/** Each key set's JWKS as served, with its entity tag: a reload of JWT_KEYS changes both at once. */
const served = new WeakMap<KeySet, { readonly body: string; readonly etag: string }>();

function jwksOf(keys: KeySet): { readonly body: string; readonly etag: string } {
  let entry = served.get(keys);
  if (!entry) {
    const body = JSON.stringify(keys.publicJwks);
    entry = { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    served.set(keys, entry);
  }
  return entry;
}

/** Key discovery: portero's public keys and the metadata that points at them, always of the keys in use. */
function keyDiscoveryRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  const { server } = deps;

  app.get('/.well-known/jwks.json', (c) => {
    const { body, etag } = jwksOf(deps.keys.current);
    c.header('cache-control', 'public, max-age=300');
    // Public keys, which an app's own pages may read to verify an ID token (a single-page app).
    c.header('access-control-allow-origin', '*');
    c.header('etag', etag);
    // A cache revalidating the set it holds: unchanged unless the keys were reloaded since.
    const held = c.req.header('if-none-match')?.split(/\s*,\s*/) ?? [];
    if (held.includes(etag)) return c.body(null, 304);
    c.header('content-type', 'application/json');
    return c.body(body);
  });

  app.get('/.well-known/openid-configuration', (c) => {
    c.header('cache-control', 'public, max-age=300');
    c.header('access-control-allow-origin', '*');
    return c.json({
      issuer: deps.tokens.issuer,
      jwks_uri: `${server.publicUrl}/.well-known/jwks.json`,
      userinfo_endpoint: `${server.publicUrl}/userinfo`,
      id_token_signing_alg_values_supported: deps.keys.current.algorithms,
      claims_supported: [
        'iss',
        'aud',
        'sub',
        'iat',
        'exp',
        'jti',
        'sid',
        'provider',
        'email',
        'email_verified',
        'name',
        'preferred_username',
        'picture',
      ],
    });
  });

  return app;
}

/** The sign-in page, key discovery and health: what needs no session. */
export function publicRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  const { cookies } = deps;
  const providerLinks = signInLinks(deps);

  app.get('/', async (c) => {
    c.header('cache-control', 'no-store');
    // An app asked for a fresh sign-in (prompt=login): the providers, signed in or not.
    if (c.req.query('prompt') === 'login') return c.html(signInPage(pageContext(c), providerLinks, c.req.query('return_to'), true));
    const cookie = cookies.readToken(c);
    // An invalid token, or several token cookies (one planted by a sibling subdomain), just means
    // "not signed in"; a store outage is a 503 like anywhere else.
    const claims: PorteroClaims | undefined =
      cookie.kind === 'one'
        ? await deps.sessions.authenticate(cookie.token).catch((err: unknown) => {
            if (isPorteroError(err, UNAUTHENTICATED)) return undefined;
            throw err;
          })
        : undefined;
    if (claims) return c.html(signedInPage(pageContext(c), claims));
    return c.html(signInPage(pageContext(c), providerLinks, c.req.query('return_to')));
  });

  // Linked from every page; the same bytes for as long as this version runs, so browsers keep it a day.
  app.get('/favicon.svg', (c) => {
    c.header('cache-control', 'public, max-age=86400');
    c.header('content-type', 'image/svg+xml');
    return c.body(FAVICON_SVG);
  });

  app.route('/', keyDiscoveryRoutes(deps));

  app.route('/', healthRoutes(deps));

  return app;
}

/**
 * Liveness and readiness. Under PUBLIC_URL's path like every route, and at the root too
 * (`createApp`): a probe that asks the container itself (Docker's HEALTHCHECK, a Kubernetes
 * probe) knows the port, not the path a proxy puts in front.
 */
export function healthRoutes(deps: Pick<HttpDeps, 'draining' | 'store'>) {
  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    // Draining after SIGTERM: requests in flight finish, a load balancer should send no new ones.
    if (deps.draining()) {
      c.header('cache-control', 'no-store');
      return c.json({ status: 'draining' }, 503);
    }
    await deps.store.ping();
    return c.json({ status: 'ready' });
  });
  return app;
}
