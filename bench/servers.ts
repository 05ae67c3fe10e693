/**
 * The bench's servers besides portero, each run as its own process so that its CPU is its own:
 *
 *   node bench/dist/servers.js <kind> <port> [<issuer> <extra>]
 *
 * op      the stub OpenID provider (stub-op.ts)
 * hono    bare Hono answering `ok`: the framework's ceiling
 * jose    bare Hono verifying the token cookie with jose on every request (extra: the JWKS URL of
 *         the tokens' issuer, read once at start): what an app verifying portero's tokens itself costs
 * eoc     express-openid-connect's /login against the stub provider
 * authjs  Auth.js (@auth/express) sign-in redirect (POST /auth/signin/corp) against the stub provider
 *
 * Prints `listening <port>` once it serves.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExpressAuth } from '@auth/express';
import { serve } from '@hono/node-server';
import express from 'express';
import { auth } from 'express-openid-connect';
import { Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { OP_CLIENT_ID, OP_CLIENT_SECRET, startStubOp } from './stub-op.js';

const listenHono = (app: Hono, port: number) =>
  new Promise<Server>((resolve) => {
    const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve(server as Server));
  });

const listenExpress = (app: express.Express, port: number) =>
  new Promise<Server>((resolve) => {
    const server = app.listen(port, '127.0.0.1', () => resolve(server));
  });

function bareHono(): Hono {
  return new Hono().get('/', (c) => c.text('ok'));
}

async function joseHono(issuer: string, jwksUrl: string): Promise<Hono> {
  const keys = createLocalJWKSet((await (await fetch(jwksUrl)).json()) as JSONWebKeySet);
  return new Hono().get('/', async (c) => {
    const token = getCookie(c, 'auth_token');
    if (!token) return c.text('no token', 401);
    try {
      const { payload } = await jwtVerify(token, keys, { issuer, algorithms: ['ES256'] });
      return c.text(String(payload.sub));
    } catch {
      return c.text('invalid token', 401);
    }
  });
}

function expressOpenidConnect(port: number, issuer: string): express.Express {
  const app = express();
  app.use(
    auth({
      authRequired: false,
      auth0Logout: false,
      idpLogout: false,
      baseURL: `http://127.0.0.1:${port}`,
      issuerBaseURL: issuer,
      clientID: OP_CLIENT_ID,
      clientSecret: OP_CLIENT_SECRET,
      secret: randomBytes(32).toString('base64url'),
      authorizationParams: { response_type: 'code', scope: 'openid profile email' },
    }),
  );
  return app;
}

function authJs(issuer: string): express.Express {
  const app = express();
  app.set('trust proxy', true);
  app.use(
    '/auth',
    ExpressAuth({
      secret: randomBytes(32).toString('base64url'),
      trustHost: true,
      providers: [
        {
          id: 'corp',
          name: 'Corp',
          type: 'oidc',
          issuer,
          clientId: OP_CLIENT_ID,
          clientSecret: OP_CLIENT_SECRET,
          // The endpoint given, so that Auth.js does not fetch discovery on every sign-in (as it does
          // with the issuer alone): its best case.
          authorization: { url: `${issuer}/authorize`, params: { scope: 'openid profile email' } },
          checks: ['pkce', 'state', 'nonce'],
        },
      ],
    }),
  );
  return app;
}

async function main(): Promise<void> {
  const [kind, portArg = '0', issuer = '', extra = ''] = process.argv.slice(2);
  const port = Number(portArg);
  let server: Server;
  if (kind === 'op') server = (await startStubOp(port)).server;
  else if (kind === 'hono') server = await listenHono(bareHono(), port);
  else if (kind === 'jose') server = await listenHono(await joseHono(issuer, extra), port);
  else if (kind === 'eoc') server = await listenExpress(expressOpenidConnect(port, issuer), port);
  else if (kind === 'authjs') server = await listenExpress(authJs(issuer), port);
  else throw new TypeError(`unknown server kind ${JSON.stringify(kind)}`);
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
  console.log(`listening ${(server.address() as AddressInfo).port}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
