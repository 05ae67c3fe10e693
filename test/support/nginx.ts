import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './leftovers.js';
import { REPO_ROOT, spawnGroup, stopGroup } from './process.js';
import { freePort } from './redis-server.js';
import { untilChildAnswers } from './wait.js';

export const NGINX = '/usr/sbin/nginx';

/** The locations an operator copies into their `server { }` (and README.md shows): the file the tests run. */
export const PORTERO_LOCATIONS = join(REPO_ROOT, 'deploy/nginx/portero-locations.conf');

/** A location with rules of its own (`/admin/`, for the group admins), added beside them (README.md shows it too). */
export const PORTERO_ADMIN_LOCATION = join(REPO_ROOT, 'deploy/nginx/portero-admin-location.conf');

const MISSING = `${NGINX} is not installed: the end-to-end tests run portero behind a real nginx. Install Debian package "nginx" (apt-get install nginx).`;

export interface NginxServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The generated nginx.conf, for messages. */
  readonly config: string;
  errorLog(): Promise<string>;
  accessLog(): Promise<string>;
  /** Stops the master and its workers; resolves once none is left. Removes the temporary directory. */
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Upstream blocks by name, each a list of `host:port` servers (round robin), e.g. `{ portero: [...], app: [...] }`. */
  readonly upstreams: Readonly<Record<string, readonly string[]>>;
  /** The port to listen on (127.0.0.1); a free one by default. Take one first when others must know it in advance. */
  readonly port?: number;
  /** Included inside `server { }`, in this order; the repository's {@link PORTERO_LOCATIONS} by default. */
  readonly includes?: readonly string[];
}

/** The nginx.conf for `options`, keeping everything of nginx's in `dir` and listening on 127.0.0.1:`port`. */
function renderConfig(dir: string, port: number, options: NginxOptions): string {
  const upstreams = Object.entries(options.upstreams)
    .map(([name, servers]) => `    upstream ${name} {\n${servers.map((server) => `        server ${server};\n`).join('')}    }`)
    .join('\n');
  return `# Written by test/support/nginx.ts for one test run.
daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events {
    worker_connections 256;
}
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    default_type application/octet-stream;

${upstreams}

    server {
        listen 127.0.0.1:${port};
        server_name _;
        absolute_redirect off;
${(options.includes ?? [PORTERO_LOCATIONS]).map((file) => `        include ${file};`).join('\n')}
    }
}
`;
}

/**
 * Waits until `url` gets an HTTP answer from the nginx `child` (any answer: even a 502 from an
 * upstream means nginx itself listens). Its own answer, not another server's on the port: nginx
 * writes its pid file only once it has bound its sockets, before it starts a worker to answer.
 */
async function waitListening(child: ChildProcess, url: string, dir: string): Promise<void> {
  const answered = () =>
    fetch(url, { signal: AbortSignal.timeout(1000), redirect: 'manual' }).then(
      async (response) => {
        await response.arrayBuffer();
        return true;
      },
      () => false,
    );
  const pidFile = () => readFile(join(dir, 'nginx.pid'), 'utf8').catch(() => '');
  await untilChildAnswers(child, 'nginx', answered, {
    what: `${url} to answer`,
    timeoutMs: 10_000,
    isOwn: async () => Number((await pidFile()).trim()) === child.pid,
  });
}

/**
 * Starts Debian's nginx as the test's own: configuration, logs, pid file and temporary files all
 * in a fresh temporary directory, listening on 127.0.0.1 only, in the foreground (`daemon off`)
 * as the leader of its own process group, so `stop()` reaches the master and its workers. One
 * worker: it alone keeps the round-robin position, so requests alternate strictly between the
 * servers of an upstream (several workers would each keep their own). The group and the directory
 * are recorded in the run's file until `stop()` (test/support/leftovers.ts).
 */
export async function startNginx(options: NginxOptions): Promise<NginxServer> {
  if (!existsSync(NGINX)) throw new Error(MISSING);
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'portero-nginx-'));
  const untrackDir = track({ kind: 'dir', path: dir, name: 'nginx' });
  // Run as root, nginx's workers are `nobody` and must reach the temporary directories it makes
  // for them (and chowns to them) in here. Nothing secret is kept in this directory.
  await chmod(dir, 0o755);
  const config = renderConfig(dir, port, options);
  const configPath = join(dir, 'nginx.conf');
  await writeFile(configPath, config);

  // -e: the error log from the first line on (the compiled-in one is not ours to write to).
  const child = spawnGroup(
    NGINX,
    ['-p', dir, '-c', configPath, '-e', join(dir, 'error.log')],
    { stdio: ['ignore', 'pipe', 'pipe'] },
    'nginx',
  );
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));

  const errorLog = () => readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
  const describe = () => `${output}${output ? '\n' : ''}(error log in ${dir}/error.log)`;
  const url = `http://127.0.0.1:${port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // SIGTERM: fast shutdown of the master, which ends its workers.
    try {
      await stopGroup(child, describe, { name: 'nginx' });
    } finally {
      await rm(dir, { recursive: true, force: true });
      untrackDir();
    }
  };

  try {
    await waitListening(child, url, dir);
  } catch (err) {
    const log = await errorLog();
    await stop().catch(() => {});
    throw new Error(`${(err as Error).message}\n${output}\nerror log:\n${log}\nconfiguration:\n${config}`, { cause: err });
  }

  return {
    url,
    port,
    config,
    errorLog,
    accessLog: () => readFile(join(dir, 'access.log'), 'utf8').catch(() => ''),
    stop,
  };
}
