import { Hono } from 'hono';
import { isPorteroError, UNAUTHENTICATED } from '../../errors.js';
import type { PorteroClaims } from '../../shared/claims.js';
import type { HttpDeps } from '../deps.js';
import { signInPage, signedInPage } from '../pages.js';
import type { AppEnv } from '../types.js';

/** The sign-in page, key discovery and health: what needs no session. */
export function publicRoutes(deps: HttpDeps) {
  const app = new Hono<AppEnv>();
  const { cookies, server } = deps;
  const providerLinks = [...deps.login.providers.values()].map(({ id, displayName }) => ({ id, displayName }));

  app.get('/', async (c) => {
    c.header('cache-control', 'no-store');
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
    if (claims) return c.html(signedInPage(c.get('basePath'), claims));
    return c.html(signInPage(c.get('basePath'), providerLinks, c.req.query('return_to')));
  });

  app.get('/.well-known/jwks.json', (c) => {
    c.header('cache-control', 'public, max-age=300');
    return c.json(deps.keys.publicJwks);
  });

  app.get('/.well-known/openid-configuration', (c) => {
    c.header('cache-control', 'public, max-age=300');
    return c.json({
      issuer: deps.tokens.issuer,
      jwks_uri: `${server.publicUrl}/.well-known/jwks.json`,
      userinfo_endpoint: `${server.publicUrl}/userinfo`,
      id_token_signing_alg_values_supported: deps.keys.algorithms,
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

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    await deps.store.ping();
    return c.json({ status: 'ready' });
  });

  return app;
}
