import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Redis } from 'ioredis';
import * as client from 'openid-client';
import type { KeyRing } from '../../src/tokens/key-ring.js';
import { buildKeySet, generateKeyJwk } from '../../src/tokens/keys.js';
import { parseConfig } from '../../src/config/parse.js';
import { createLogger } from '../../src/logger.js';
import { connectStore } from '../../src/store/connect.js';
import { buildTestApp, isolatedRedisStore, LogCapture, memoryStore, type TestApp } from './app.js';
import { network, type TestBrowser } from './browser.js';
import { OP_ACCOUNTS, type OidcOp, signInAtOp, startOidcOp } from './oidc-op.js';
import { freePort } from './redis-server.js';

const isRedirect = (response: Response) => response.status >= 300 && response.status < 400 && response.headers.has('location');

/** What a browser went through from an app's authorization request to the app's redirect URI. */
export interface AppSignIn {
  /** The app's redirect URI with `code` and `state` (or `error`), not visited. */
  readonly callback: URL;
  /** Whether the user was sent to the upstream provider's sign-in on the way (no single sign-on). */
  readonly sawUpstream: boolean;
  /** Every address the browser was sent through. */
  readonly hops: readonly string[];
}

/**
 * Plays the browser of an app's user at portero as an OpenID Provider: follows portero's redirects
 * from `authorizationUrl`, signs in at the upstream provider (`upstream`, as `account`) when sent
 * there, until portero sends the browser to `appRedirect`. Throws with the page when portero
 * answers something else.
 */
export async function signInToApp(
  browser: TestBrowser,
  authorizationUrl: string | URL,
  options: { readonly appRedirect: string; readonly upstream: string; readonly account?: string; readonly from?: string },
): Promise<AppSignIn> {
  const account = options.account ?? 'alice';
  const hops: string[] = [];
  let sawUpstream = false;
  let url = new URL(authorizationUrl);
  let from: string | undefined = options.from;
  for (let step = 0; step < 20; step++) {
    hops.push(url.href);
    if (url.href.startsWith(options.appRedirect)) return { callback: url, sawUpstream, hops };
    if (url.origin === options.upstream) {
      sawUpstream = true;
      const back = await signInAtOp(browser, url, account, OP_ACCOUNTS[account]!.password);
      from = options.upstream;
      url = back;
      continue;
    }
    const response = await browser.get(network, url, undefined, from === undefined ? {} : { from });
    if (!isRedirect(response)) throw new Error(`portero answered ${response.status} at ${url.href}:\n${await response.text()}`);
    from = url.origin;
    url = new URL(response.headers.get('location')!, url);
  }
  throw new Error(`no way to ${options.appRedirect} after 20 steps: ${hops.join(' → ')}`);
}

/** A logout token an app's back-channel logout endpoint received. */
export interface ReceivedLogout {
  readonly path: string;
  readonly token: string;
}

/** Two apps' servers on one origin: they answer 200 to anything and keep every logout token posted to them. */
export async function startAppServers(): Promise<{ url: string; logoutTokens: ReceivedLogout[]; close(): Promise<void> }> {
  const logoutTokens: ReceivedLogout[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (request.method === 'POST' && token) logoutTokens.push({ path: request.url ?? '', token });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    logoutTokens,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** HTTP Basic credentials of an app, as it authenticates at the token endpoint. */
export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** The confidential app's secret in the stack below. */
export const APP_ONE_SECRET = 'app-one-secret-that-is-long-enough-0123456789';

export interface PorteroOpStack {
  readonly publicUrl: string;
  readonly appsUrl: string;
  readonly upstream: OidcOp;
  readonly gateway: TestApp;
  readonly logoutTokens: ReceivedLogout[];
  /** With `redisUrl`: a client without the prefix, as an operator's redis-cli sees the store, and the prefix. */
  readonly redis?: { readonly raw: Redis; readonly prefix: string };
  /** openid-client's configuration for app `one` (confidential, client_secret_basic) or `two` (public). */
  discover(app: 'one' | 'two', secret?: string): Promise<client.Configuration>;
  /** One app's whole sign-in in `browser` (PKCE, state, nonce), its code exchanged by openid-client. */
  appSignIn(browser: TestBrowser, app: 'one' | 'two', extra?: Record<string, string>): Promise<AppSignInResult>;
  close(): Promise<void>;
}

export interface AppSignInResult {
  readonly config: client.Configuration;
  readonly walk: AppSignIn;
  readonly tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers;
  readonly nonce: string;
}

/**
 * A load balancer on `port` handing each request to the next of `backends` in turn (a real one
 * does not keep a browser on one instance either), so each step of a sign-in may reach another.
 */
async function roundRobin(port: number, backends: readonly number[]): Promise<() => Promise<void>> {
  let next = 0;
  const server = createServer((request, response) => {
    const target = backends[next++ % backends.length]!;
    const forwarded = httpRequest(
      { host: '127.0.0.1', port: target, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forwarded.on('error', () => response.writeHead(502).end());
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}

export interface PorteroOpOptions {
  readonly keyRing?: KeyRing;
  /** Two instances on this Redis behind a round-robin balancer, rather than one on a memory store. */
  readonly redisUrl?: string;
  /** Two instances on this topology (REDIS_SENTINELS…, REDIS_CLUSTER_NODES), connected as main.ts connects. */
  readonly redisEnv?: Readonly<Record<string, string>>;
  /** A path for PUBLIC_URL (`/sso`): every route of portero's lives under it. */
  readonly basePath?: string;
}

/** Two gateways, each served on a port of its own, behind a round-robin balancer on `port`. */
async function balanced(port: number, gateways: readonly TestApp[]) {
  const ports = [await freePort(), await freePort()];
  const servers = gateways.map((gateway, index) => serve({ fetch: gateway.app.fetch, port: ports[index]!, hostname: '127.0.0.1' }));
  const closeBalancer = await roundRobin(port, ports);
  return async () => {
    await closeBalancer();
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  };
}

/** The gateway(s) of the stack, served; the first is `gateway`. */
async function serveGateways(port: number, env: Record<string, string>, options: PorteroOpOptions) {
  const keys = options.keyRing ?? (await buildKeySet([await generateKeyJwk('ES256'), await generateKeyJwk('RS256')], 'ES256'));
  if (!options.redisUrl && !options.redisEnv) {
    const gateway = await buildTestApp({ store: memoryStore(), keys, env });
    const server = serve({ fetch: gateway.app.fetch, port, hostname: '127.0.0.1' });
    return { gateway, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  if (options.redisEnv) {
    const connections = [
      await connectStore(parseConfig({ ...env, ...options.redisEnv }).redis, createLogger('warn', new LogCapture())),
      await connectStore(parseConfig({ ...env, ...options.redisEnv }).redis, createLogger('warn', new LogCapture())),
    ];
    const gateways = await Promise.all(connections.map((connection) => buildTestApp({ store: connection.store, keys, env })));
    const close = await balanced(port, gateways);
    return {
      gateway: gateways[0]!,
      async close() {
        await close();
        for (const connection of connections) await connection.close();
      },
    };
  }
  const url = options.redisUrl!;
  const first = await isolatedRedisStore(url);
  const second = await isolatedRedisStore(url, first.prefix);
  const gateways = [await buildTestApp({ store: first.store, keys, env }), await buildTestApp({ store: second.store, keys, env })];
  const close = await balanced(port, gateways);
  return {
    gateway: gateways[0]!,
    redis: { raw: first.raw, prefix: first.prefix },
    async close() {
      await close();
      await first.close();
      await second.close();
    },
  };
}

/**
 * portero in front of a real upstream OpenID provider (oidc-provider, as `corp`), served on a free
 * port, with two apps registered as an operator would: `one` confidential with a back-channel
 * logout URI and a way back after sign-out, `two` public (PKCE) with a back-channel logout URI.
 */
export async function startPorteroOp(env: Record<string, string> = {}, options: PorteroOpOptions = {}): Promise<PorteroOpStack> {
  const apps = await startAppServers();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}${options.basePath ?? ''}`;
  const upstream = await startOidcOp({
    redirectUris: [`${publicUrl}/callback/corp`],
    postLogoutRedirectUris: [`${publicUrl}/signed-out`],
    backchannelLogoutUri: `${publicUrl}/backchannel-logout/corp`,
  });
  const served = await serveGateways(
    port,
    {
      ...upstream.env('corp'),
      PUBLIC_URL: publicUrl,
      // Every test's browser is one loopback address: /login's and /authorize's limit out of the way (a test sets its own).
      RATE_LIMIT_LOGIN: '100000/60s',
      APP_ONE_SECRET,
      APP_ONE_REDIRECT_URIS: `${apps.url}/one/callback`,
      APP_ONE_POST_LOGOUT_REDIRECT_URIS: `${apps.url}/one/bye`,
      APP_ONE_BACKCHANNEL_LOGOUT_URI: `${apps.url}/one/backchannel`,
      APP_ONE_NAME: 'App One',
      APP_TWO_REDIRECT_URIS: `${apps.url}/two/callback`,
      APP_TWO_BACKCHANNEL_LOGOUT_URI: `${apps.url}/two/backchannel`,
      ...env,
    },
    options,
  );
  const { gateway } = served;
  const discover = (app: 'one' | 'two', secret = app === 'one' ? APP_ONE_SECRET : undefined) =>
    client.discovery(new URL(publicUrl), app, secret, secret ? client.ClientSecretBasic(secret) : client.None(), {
      execute: [client.allowInsecureRequests],
    });
  return {
    publicUrl,
    appsUrl: apps.url,
    upstream,
    gateway,
    logoutTokens: apps.logoutTokens,
    ...('redis' in served ? { redis: served.redis } : {}),
    discover,
    async appSignIn(browser, app, extra = {}) {
      const config = await discover(app);
      const redirectUri = `${apps.url}/${app}/callback`;
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email profile',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...extra,
      });
      const walk = await signInToApp(browser, url, { appRedirect: redirectUri, upstream: upstream.issuer, from: apps.url });
      const tokens = await client.authorizationCodeGrant(config, walk.callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
      });
      return { config, walk, tokens, nonce };
    },
    async close() {
      await served.close();
      await apps.close();
      await upstream.close();
    },
  };
}
