import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './leftovers.js';
import { cleanEnv, REPO_ROOT, spawnGroup, stopGroup } from './process.js';
import { freePort } from './redis-server.js';
import { untilChildAnswers } from './wait.js';

export const CADDY = '/usr/bin/caddy';

/** The Caddyfile an operator copies (and README.md shows): the file the tests run. */
export const PORTERO_CADDYFILE = join(REPO_ROOT, 'deploy/caddy/Caddyfile');

/** Its variant in /auth's redirect mode (`/auth/redirect`, no handle_response), which docs/proxies.md shows. */
export const PORTERO_REDIRECT_CADDYFILE = join(REPO_ROOT, 'deploy/caddy/Caddyfile.redirect');

const MISSING = `${CADDY} is not installed: the end-to-end tests run portero behind a real Caddy too. Install Debian package "caddy" (apt-get install caddy).`;

export interface CaddyServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** What Caddy wrote to stdout and stderr (its JSON log), for messages. */
  output(): string;
  /** Stops Caddy; resolves once it is gone. Removes the temporary directory. */
  stop(): Promise<void>;
}

export interface CaddyOptions {
  /** `host:port` of each portero instance (`PORTERO_UPSTREAMS`). */
  readonly portero: readonly string[];
  /** `host:port` of the protected app (`APP_UPSTREAM`). */
  readonly app: string;
  /** The port to listen on (127.0.0.1); a free one by default. */
  readonly port?: number;
  /**
   * The site's Caddyfile: a file of the repository, imported as it is ({@link PORTERO_CADDYFILE} by
   * default), or the text of one a test wrote (a repository file with a line taken out, say).
   */
  readonly caddyfile?: { readonly path: string } | { readonly text: string };
}

/**
 * The configuration Caddy runs: the global option a test needs (no admin endpoint; what Caddy
 * would persist goes to its XDG directories, in the test's temporary one), then the site's Caddyfile as it is, by `import`. Its addresses come from the
 * environment, as the Caddyfile lets an operator give them.
 */
const wrapper = (site: string) => `# Written by test/support/caddy.ts for one test run.
{
	admin off
}
import ${site}
`;

/** The file of the site's Caddyfile: the repository's own, or the test's text written into `dir`. */
async function siteFile(dir: string, caddyfile: CaddyOptions['caddyfile']): Promise<string> {
  if (caddyfile === undefined) return PORTERO_CADDYFILE;
  if ('path' in caddyfile) return caddyfile.path;
  const file = join(dir, 'site.Caddyfile');
  await writeFile(file, caddyfile.text);
  return file;
}

/**
 * Starts Debian's Caddy as the test's own, in the foreground (`caddy run`), as the leader of its
 * own process group, with no admin endpoint, listening on 127.0.0.1 and a free port over plain
 * http (an `http://` site address: no certificates, no port 80 or 443). Its data and
 * configuration directories (XDG) and its pid file are in a fresh temporary directory, recorded
 * in the run's file until `stop()` (test/support/leftovers.ts), as are its process group.
 */
export async function startCaddy(options: CaddyOptions): Promise<CaddyServer> {
  if (!existsSync(CADDY)) throw new Error(MISSING);
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'portero-caddy-'));
  const untrackDir = track({ kind: 'dir', path: dir, name: 'caddy' });
  const config = join(dir, 'Caddyfile');
  await writeFile(config, wrapper(await siteFile(dir, options.caddyfile)));
  const url = `http://127.0.0.1:${port}`;
  const child = spawnGroup(
    CADDY,
    ['run', '--config', config, '--adapter', 'caddyfile', '--pidfile', join(dir, 'caddy.pid')],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: cleanEnv({
        HOME: dir,
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_CONFIG_HOME: join(dir, 'config'),
        PORTERO_SITE: url,
        PORTERO_UPSTREAMS: options.portero.join(' '),
        APP_UPSTREAM: options.app,
      }),
    },
    'caddy',
  );
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await stopGroup(child, () => output, { name: 'caddy' });
    } finally {
      await rm(dir, { recursive: true, force: true });
      untrackDir();
    }
  };
  try {
    await waitListening(child, url, dir);
  } catch (err) {
    await stop().catch(() => {});
    throw new Error(`${(err as Error).message}\n${output}`, { cause: err });
  }
  return { url, port, output: () => output, stop };
}

/**
 * Until `url` gets an HTTP answer from this Caddy, not another server's on the port: `caddy run`
 * writes its pid file only once its configuration is loaded and its sockets bound.
 */
async function waitListening(child: ChildProcess, url: string, dir: string): Promise<void> {
  const answered = () =>
    fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000), redirect: 'manual' }).then(
      async (response) => {
        await response.arrayBuffer();
        return true;
      },
      () => false,
    );
  const pidFile = () => readFile(join(dir, 'caddy.pid'), 'utf8').catch(() => '');
  await untilChildAnswers(child, 'caddy', answered, {
    what: `${url} to answer`,
    timeoutMs: 10_000,
    isOwn: async () => Number((await pidFile()).trim()) === child.pid,
  });
}
