import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyJwk } from '../../src/tokens/keys.js';
import { startNginx, type NginxServer } from './nginx.js';
import { startOidcOp, type OidcOp } from './oidc-op.js';
import { startGateway, type GatewayProcess } from './process.js';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';

/** A request the demo app received from nginx. */
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

const escapeHtml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

export async function startDemoUpstream(): Promise<DemoUpstream> {
  const requests: UpstreamRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const user = req.headers['x-auth-request-user'];
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(`<!doctype html><title>demo app</title><p>hello ${escapeHtml(String(user ?? ''))}</p>\n`);
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

/** portero as in production on one machine: two `npm start` processes behind nginx, one Redis, a real OpenID provider. */
export interface E2eStack {
  /** nginx's origin, which is also portero's PUBLIC_URL: everything a browser visits. */
  readonly url: string;
  /** The provider's id in portero (`/login/<id>`, `/callback/<id>`). */
  readonly providerId: string;
  readonly op: OidcOp;
  readonly redis: RedisServer;
  /** INSTANCE_NAME `a` and `b`. */
  readonly gateways: readonly [GatewayProcess, GatewayProcess];
  readonly nginx: NginxServer;
  readonly app: DemoUpstream;
  /** The shared JWT_KEYS file (private keys, mode 0600). */
  readonly jwtKeysFile: string;
  stop(): Promise<void>;
}

export interface E2eStackOptions {
  /** `corp` by default. */
  readonly providerId?: string;
  /** More configuration for both processes. */
  readonly env?: Record<string, string>;
}

/**
 * Starts, in order: Redis, nginx's port (taken first: it is PUBLIC_URL), the OpenID provider with
 * portero's client registered at `PUBLIC_URL/callback/<id>`, a JWT_KEYS file as `npm run keys`
 * writes it, two gateways configured only through the environment (`NODE_ENV=production`), the
 * demo app, and nginx in front of them all. A failure on the way stops what was started.
 */
export async function startE2eStack(options: E2eStackOptions = {}): Promise<E2eStack> {
  const providerId = options.providerId ?? 'corp';
  const started: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    const errors: unknown[] = [];
    for (const stop of started.splice(0).reverse()) await stop().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw new AggregateError(errors, `stopping the end-to-end stack: ${errors.map(String).join('; ')}`);
  };
  try {
    const redis = await startRedisServer();
    started.push(() => redis.stop());

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;

    const op = await startOidcOp({ redirectUris: [`${url}/callback/${providerId}`] });
    started.push(() => op.close());

    // `npm run keys`: one ES256 private key in a JWKS file only its owner can read.
    const keysDir = await mkdtemp(join(tmpdir(), 'portero-keys-'));
    started.push(() => rm(keysDir, { recursive: true, force: true }));
    const jwtKeysFile = join(keysDir, 'jwt-keys.json');
    await writeFile(jwtKeysFile, `${JSON.stringify({ keys: [await generateKeyJwk('ES256')] }, null, 2)}\n`, { mode: 0o600 });

    const shared = {
      NODE_ENV: 'production',
      PUBLIC_URL: url,
      HOST: '127.0.0.1',
      REDIS_URL: redis.url,
      COOKIE_SECRET: randomBytes(32).toString('base64url'),
      JWT_KEYS: jwtKeysFile,
      ALLOWED_REDIRECTS: url,
      ...op.env(providerId),
      ...options.env,
    };
    const [a, b] = await Promise.allSettled([
      startGateway({ env: { ...shared, INSTANCE_NAME: 'a' } }),
      startGateway({ env: { ...shared, INSTANCE_NAME: 'b' } }),
    ]);
    for (const result of [a, b]) if (result.status === 'fulfilled') started.push(() => result.value.stop());
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;
    const gateways = [a.value, b.value] as const;

    const app = await startDemoUpstream();
    started.push(() => app.close());

    const nginx = await startNginx({
      port,
      upstreams: { portero: gateways.map((gateway) => `127.0.0.1:${gateway.port}`), app: [app.address] },
    });
    started.push(() => nginx.stop());

    return { url, providerId, op, redis, gateways, nginx, app, jwtKeysFile, stop: stopAll };
  } catch (err) {
    await stopAll().catch(() => {});
    throw err;
  }
}
