import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyJwk } from '../../src/tokens/keys.js';
import { escapeHtml } from './html.js';
import { track } from './leftovers.js';
import { type CaddyOptions, startCaddy } from './caddy.js';
import { PORTERO_ADMIN_LOCATION, PORTERO_LOCATIONS, startNginx } from './nginx.js';
import { startOidcOp, type OidcOp } from './oidc-op.js';
import { startGateway, type GatewayProcess } from './process.js';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';

/** A request the demo app received from the proxy. */
export interface UpstreamRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

/** The app nginx protects: greets whoever nginx says portero signed in, and remembers every request. */
export interface DemoUpstream {
  /** `127.0.0.1:<port>`, for an nginx upstream. */
  readonly address: string;
  readonly requests: UpstreamRequest[];
  close(): Promise<void>;
}

/** The claims of the token nginx passed on (`X-Auth-Request-Token`), decoded only: nginx vouches for it. */
function tokenClaims(token: string | undefined): Record<string, unknown> | undefined {
  try {
    return token
      ? (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The demo app's page: `hello <user>` (what the tests look for), then what nginx told it about
 * the person (the X-Auth-Request-* headers), the page asked for, and the token's claims.
 */
function demoPage(req: IncomingMessage): string {
  const header = (name: string) => {
    const value = req.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  const user = header('x-auth-request-user') ?? '';
  const claims = tokenClaims(header('x-auth-request-token'));
  const rows = [
    ['user', user],
    ['email', header('x-auth-request-email')],
    ['user name', header('x-auth-request-preferred-username')],
    ['groups', header('x-auth-request-groups')],
    ['page', req.url],
  ]
    .filter((row): row is [string, string] => row[1] !== undefined)
    .map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${escapeHtml(value)}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>demo app</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #1d2430; }
  header { border-bottom: 1px solid #c5ccd6; margin-bottom: 1rem; color: #5b6573; }
  th { text-align: left; padding-right: 1rem; color: #5b6573; font-weight: normal; }
  pre { background: #f2f5f9; padding: 1rem; border-radius: .5rem; font-size: .85rem; white-space: pre-wrap; word-break: break-all; }
</style></head>
<body>
<header>demo app, behind nginx and portero</header>
<h1>hello ${escapeHtml(user)}</h1>
<table>${rows}</table>
${claims ? `<h2>Claims of the token portero issued</h2>\n<pre>${escapeHtml(JSON.stringify(claims, null, 2))}</pre>` : ''}
</body></html>
`;
}

export async function startDemoUpstream(): Promise<DemoUpstream> {
  const requests: UpstreamRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(demoPage(req));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The proxy in front of the gateways and the app, as the repository configures it (deploy/nginx, deploy/caddy). */
export interface RunningProxy {
  readonly kind: 'nginx' | 'caddy';
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  stop(): Promise<void>;
}

/** portero as in production on one machine: two gateway processes (`node dist/main.js`, as `npm start` runs them) behind nginx (or Caddy), one Redis, a real OpenID provider. */
export interface E2eStack {
  /** The proxy's origin, which is also portero's PUBLIC_URL: everything a browser visits. */
  readonly url: string;
  /** The provider's id in portero (`/login/<id>`, `/callback/<id>`). */
  readonly providerId: string;
  readonly op: OidcOp;
  readonly redis: RedisServer;
  /** INSTANCE_NAME `a` and `b`: the processes running now (a restart replaces one). */
  readonly gateways: readonly [GatewayProcess, GatewayProcess];
  readonly proxy: RunningProxy;
  readonly app: DemoUpstream;
  /** The shared JWT_KEYS file (private keys, mode 0600), which a test may rewrite and then restart the gateways. */
  readonly jwtKeysFile: string;
  /**
   * Stops gateway `index` (0 is `a`, 1 is `b`) and starts it again with the same environment on
   * the same port, so nginx's upstream finds it there: a deploy of one instance, which reads
   * JWT_KEYS afresh. Resolves once it answers `/healthz`; the other keeps serving meanwhile.
   */
  restartGateway(index: 0 | 1): Promise<GatewayProcess>;
  /** A rolling restart: `a`, then `b`, one at a time, as an operator rolls out a new key file. */
  restartGateways(): Promise<void>;
  stop(): Promise<void>;
}

export interface E2eStackOptions {
  /** `corp` by default. */
  readonly providerId?: string;
  /** More configuration for both processes. */
  readonly env?: Record<string, string>;
  /**
   * In front: nginx with deploy/nginx/portero-locations.conf and portero-admin-location.conf (the
   * default), or Caddy with deploy/caddy/Caddyfile.
   */
  readonly proxy?: 'nginx' | 'caddy';
  /** With Caddy: the site's Caddyfile, deploy/caddy/Caddyfile by default (see {@link CaddyOptions}). */
  readonly caddyfile?: CaddyOptions['caddyfile'];
}

/** Stop functions of what was started, run in reverse order; every one runs, the errors are collected. */
class StopList {
  readonly #stops: (() => Promise<void>)[] = [];
  push(stop: () => Promise<void>): void {
    this.#stops.push(stop);
  }
  async stopAll(): Promise<void> {
    const errors: unknown[] = [];
    for (const stop of this.#stops.splice(0).reverse()) await stop().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw new AggregateError(errors, `stopping the end-to-end stack: ${errors.map(String).join('; ')}`);
  }
}

/** `npm run keys`: one ES256 private key in a JWKS file only its owner can read, in a directory of its own. */
async function writeJwtKeys(stops: StopList): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portero-keys-'));
  // Recorded in the run's file too: a test worker that dies must not leave a private key behind.
  const untrack = track({ kind: 'dir', path: dir, name: 'JWT_KEYS of the end-to-end stack' });
  stops.push(async () => {
    await rm(dir, { recursive: true, force: true });
    untrack();
  });
  const file = join(dir, 'jwt-keys.json');
  await writeFile(file, `${JSON.stringify({ keys: [await generateKeyJwk('ES256')] }, null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** Gateways `a` and `b`, started together; a restart keeps the port, so nginx's upstream finds it. */
interface GatewayPair {
  readonly ports: readonly [number, number];
  /** The processes running now, by index (undefined while one restarts). */
  readonly running: readonly (GatewayProcess | undefined)[];
  restart(index: 0 | 1): Promise<GatewayProcess>;
}

async function startGatewayPair(env: Record<string, string>, stops: StopList): Promise<GatewayPair> {
  const names = ['a', 'b'] as const;
  const running: (GatewayProcess | undefined)[] = [undefined, undefined];
  stops.push(async () => {
    const results = await Promise.allSettled(running.splice(0, 2, undefined, undefined).map((gateway) => gateway?.stop()));
    const failed = results.filter((result) => result.status === 'rejected');
    if (failed.length > 0) throw failed[0]!.reason;
  });
  const launch = async (index: 0 | 1, port?: number) => {
    const gateway = await startGateway({ env: { ...env, INSTANCE_NAME: names[index], ...(port ? { PORT: String(port) } : {}) } });
    running[index] = gateway;
    return gateway;
  };
  const [a, b] = await Promise.allSettled([launch(0), launch(1)]);
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
  const ports = [a.value.port, b.value.port] as const;
  return {
    ports,
    running,
    async restart(index) {
      const old = running[index];
      running[index] = undefined;
      await old?.stop();
      return launch(index, ports[index]);
    },
  };
}

/** nginx or Caddy on `port`, in front of the gateways and the app, configured as the repository's files say. */
async function startProxy(options: E2eStackOptions, port: number, gateways: readonly number[], app: string): Promise<RunningProxy> {
  const kind = options.proxy ?? 'nginx';
  const portero = gateways.map((gateway) => `127.0.0.1:${gateway}`);
  const server =
    kind === 'nginx'
      ? await startNginx({ port, upstreams: { portero, app: [app] }, includes: [PORTERO_LOCATIONS, PORTERO_ADMIN_LOCATION] })
      : await startCaddy({ port, portero, app, ...(options.caddyfile ? { caddyfile: options.caddyfile } : {}) });
  return { kind, url: server.url, stop: () => server.stop() };
}

/**
 * Starts, in order: Redis, the proxy's port (taken first: it is PUBLIC_URL), the OpenID provider with
 * portero's client registered at `PUBLIC_URL/callback/<id>`, a JWT_KEYS file as `npm run keys`
 * writes it, two gateways configured only through the environment (`NODE_ENV=production`), the
 * demo app, and the proxy (nginx, or Caddy) in front of them all. A failure on the way stops what was started.
 */
export async function startE2eStack(options: E2eStackOptions = {}): Promise<E2eStack> {
  const providerId = options.providerId ?? 'corp';
  const stops = new StopList();
  try {
    const redis = await startRedisServer();
    stops.push(() => redis.stop());

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;

    // Registered as an operator registers portero: its callback, where RP-initiated logout returns,
    // and where the provider posts its back-channel logout tokens (through the proxy, as any request).
    const op = await startOidcOp({
      redirectUris: [`${url}/callback/${providerId}`],
      postLogoutRedirectUris: [`${url}/signed-out`],
      backchannelLogoutUri: `${url}/backchannel-logout/${providerId}`,
    });
    stops.push(() => op.close());

    const jwtKeysFile = await writeJwtKeys(stops);
    // Production, configured through the environment only, as an operator does.
    const env = {
      NODE_ENV: 'production',
      PUBLIC_URL: url,
      HOST: '127.0.0.1',
      // The proxy connects from loopback: its X-Forwarded-For names the browser, as in compose.yaml.
      TRUSTED_PROXIES: '127.0.0.1',
      REDIS_URL: redis.url,
      COOKIE_SECRET: randomBytes(32).toString('base64url'),
      JWT_KEYS: jwtKeysFile,
      ALLOWED_REDIRECTS: url,
      ...op.env(providerId),
      ...options.env,
    };
    const gateways = await startGatewayPair(env, stops);

    const app = await startDemoUpstream();
    stops.push(() => app.close());

    const proxy = await startProxy(options, port, gateways.ports, app.address);
    stops.push(() => proxy.stop());

    return {
      url,
      providerId,
      op,
      redis,
      get gateways() {
        const [first, second] = gateways.running;
        if (!first || !second)
          throw new Error('a gateway of the end-to-end stack is not running (a restart failed, or the stack was stopped)');
        return [first, second] as const;
      },
      proxy,
      app,
      jwtKeysFile,
      restartGateway: (index) => gateways.restart(index),
      async restartGateways() {
        await gateways.restart(0);
        await gateways.restart(1);
      },
      stop: () => stops.stopAll(),
    };
  } catch (err) {
    await stops.stopAll().catch(() => {});
    throw err;
  }
}
