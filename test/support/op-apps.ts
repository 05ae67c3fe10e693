import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { generateKeyJwk } from '../../src/tokens/keys.js';
import { track } from './leftovers.js';
import { type OidcOp, startOidcOp } from './oidc-op.js';
import { type GatewayProcess, REPO_ROOT, spawnGroup, startGateway, stopGroup } from './process.js';
import { assertPythonAuthlib, PYTHON, PYTHON_ENV } from './python.js';
import { freePort, type RedisServer, startRedisServer } from './redis-server.js';
import { exitOf, pollUntil } from './wait.js';

// portero as the OpenID Provider of two apps of other teams, on other sites, each run from
// examples/apps as that team would run it: a gateway process on Redis in front of a real upstream
// OpenID provider, the Authlib app (Python) and the openid-client app (Node) as processes of their own.

/** One of examples/apps, running. */
export interface ExampleApp {
  /** Its APP_URL, where the browser reaches it. */
  readonly url: string;
  /** Its client id at portero. */
  readonly clientId: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** The first match of `pattern` in its output, once it has printed one (20 s at most). */
  printed(pattern: RegExp, what: string): Promise<RegExpExecArray>;
  stop(): Promise<void>;
}

/** Starts `command` as its own process group (tracked for the run's teardown); resolves once it prints its `listening on` line. */
async function startExampleApp(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
  clientId: string,
): Promise<ExampleApp> {
  const name = `${command === PYTHON ? 'python3' : 'node'} ${args.join(' ')}`;
  const child: ChildProcess = spawnGroup(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }, name);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  // Generous: an app's start includes reading portero's discovery document, on a machine that may be busy.
  const printed = (pattern: RegExp, what: string) =>
    pollUntil(() => pattern.exec(output), {
      what: `${name} to print ${what}`,
      timeoutMs: 20_000,
      giveUp: () => {
        const exit = exitOf(child);
        return exit && `${name} exited (${exit})`;
      },
    }).catch((err: Error) => Promise.reject(new Error(`${err.message}\nIts output:\n${output}`)));
  const stop = () => stopGroup(child, () => output, { name });
  try {
    await printed(/^listening on http:\/\/\S+$/m, 'its "listening on" line');
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  return { url: env.APP_URL!, clientId, output: () => output, printed, stop };
}

export interface OpAppsStack {
  /** portero's PUBLIC_URL: `http://127.0.0.1:<port>`. */
  readonly portero: string;
  readonly gateway: GatewayProcess;
  readonly upstream: OidcOp;
  /** The Authlib app, a confidential client (`billing`), on `http://localhost:<port>`. */
  readonly billing: ExampleApp;
  /** The openid-client app, a public client with PKCE (`wiki`), on `http://127.0.0.2:<port>`. */
  readonly wiki: ExampleApp;
  /** The RS256 key of JWT_KEYS (private): portero signs the apps' tokens with it. */
  readonly rsaKey: JWK;
  stop(): Promise<void>;
}

/** Stop functions, run in reverse order; every one runs, and the first error is thrown at the end. */
function stopList() {
  const stops: (() => Promise<void>)[] = [];
  return {
    push: (stop: () => Promise<void>) => void stops.push(stop),
    async stopAll() {
      const results = [];
      for (const stop of stops.splice(0).reverse())
        results.push(
          await stop().then(
            () => undefined,
            (err: unknown) => err ?? 'failed',
          ),
        );
      const failure = results.find((result) => result !== undefined);
      if (failure !== undefined) throw failure;
    },
  };
}

/** JWT_KEYS as an operator writes it for apps: the ES256 signing key, and an RSA key beside it for the apps' ID tokens. */
async function writeJwtKeys(stops: ReturnType<typeof stopList>): Promise<{ file: string; rsaKey: JWK }> {
  const dir = await mkdtemp(join(tmpdir(), 'portero-keys-'));
  const untrack = track({ kind: 'dir', path: dir, name: 'JWT_KEYS of the apps test' });
  stops.push(async () => {
    await rm(dir, { recursive: true, force: true });
    untrack();
  });
  const rsaKey = await generateKeyJwk('RS256');
  const file = join(dir, 'jwt-keys.json');
  await writeFile(file, `${JSON.stringify({ keys: [await generateKeyJwk('ES256'), rsaKey] }, null, 2)}\n`, { mode: 0o600 });
  return { file, rsaKey };
}

/**
 * Starts Redis, the upstream provider (`corp`, registered for portero), a gateway process
 * (`node dist/main.js`, NODE_ENV=production, configured through the environment only) with the
 * two apps registered as APP_BILLING_* and APP_WIKI_*, then the two apps. Three sites: portero on
 * 127.0.0.1, Billing on `localhost`, Wiki on 127.0.0.2 (cookies ignore ports, so an app on
 * 127.0.0.1 would be sent portero's own cookies, as no app on another domain ever is).
 */
export async function startOpApps(): Promise<OpAppsStack> {
  assertPythonAuthlib();
  const stops = stopList();
  try {
    const redis: RedisServer = await startRedisServer();
    stops.push(() => redis.stop());
    const [port, billingPort, wikiPort] = [await freePort(), await freePort(), await freePort()];
    const portero = `http://127.0.0.1:${port}`;
    const billingUrl = `http://localhost:${billingPort}`;
    const wikiUrl = `http://127.0.0.2:${wikiPort}`;
    const upstream = await startOidcOp({
      redirectUris: [`${portero}/callback/corp`],
      postLogoutRedirectUris: [`${portero}/signed-out`],
      backchannelLogoutUri: `${portero}/backchannel-logout/corp`,
    });
    stops.push(() => upstream.close());
    const keys = await writeJwtKeys(stops);
    const billingSecret = randomBytes(32).toString('base64url');
    const gateway = await startGateway({
      env: {
        NODE_ENV: 'production',
        PUBLIC_URL: portero,
        HOST: '127.0.0.1',
        PORT: String(port),
        REDIS_URL: redis.url,
        COOKIE_SECRET: randomBytes(32).toString('base64url'),
        JWT_KEYS: keys.file,
        ...upstream.env('corp'),
        PROVIDER_CORP_NAME: 'Corp SSO',
        APP_BILLING_NAME: 'Billing',
        APP_BILLING_SECRET: billingSecret,
        APP_BILLING_REDIRECT_URIS: `${billingUrl}/callback`,
        APP_BILLING_POST_LOGOUT_REDIRECT_URIS: `${billingUrl}/`,
        APP_BILLING_BACKCHANNEL_LOGOUT_URI: `${billingUrl}/backchannel`,
        APP_WIKI_NAME: 'Wiki',
        APP_WIKI_REDIRECT_URIS: `${wikiUrl}/callback`,
        APP_WIKI_POST_LOGOUT_REDIRECT_URIS: `${wikiUrl}/`,
        APP_WIKI_BACKCHANNEL_LOGOUT_URI: `${wikiUrl}/backchannel`,
      },
    });
    stops.push(() => gateway.stop());
    const started = await Promise.allSettled([
      startExampleApp(
        PYTHON,
        ['examples/apps/authlib_app.py'],
        {
          ...PYTHON_ENV,
          PORTERO_ISSUER: portero,
          CLIENT_ID: 'billing',
          CLIENT_SECRET: billingSecret,
          APP_URL: billingUrl,
          HOST: '127.0.0.1',
        },
        'billing',
      ),
      startExampleApp(
        process.execPath,
        ['examples/apps/openid-client-app.mjs'],
        { PATH: process.env.PATH ?? '/usr/bin:/bin', PORTERO_ISSUER: portero, CLIENT_ID: 'wiki', APP_URL: wikiUrl, HOST: '127.0.0.2' },
        'wiki',
      ),
    ]);
    for (const app of started) if (app.status === 'fulfilled') stops.push(() => app.value.stop());
    const [billing, wiki] = started.map((app) => {
      if (app.status === 'rejected') throw app.reason;
      return app.value;
    }) as [ExampleApp, ExampleApp];
    return { portero, gateway, upstream, billing, wiki, rsaKey: keys.rsaKey, stop: () => stops.stopAll() };
  } catch (err) {
    await stops.stopAll().catch(() => {});
    throw err;
  }
}
