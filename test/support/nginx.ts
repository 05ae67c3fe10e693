import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, stopGroup } from './process.js';
import { freePort } from './redis-server.js';

export const NGINX = '/usr/sbin/nginx';

/** The locations an operator copies into their `server { }` (and README.md shows): the file the tests run. */
export const PORTERO_LOCATIONS = join(REPO_ROOT, 'deploy/nginx/portero-locations.conf');

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
  /** Included inside `server { }`; the repository's {@link PORTERO_LOCATIONS} by default. */
  readonly include?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts Debian's nginx as the test's own: configuration, logs, pid file and temporary files all
 * in a fresh temporary directory, listening on 127.0.0.1 only, in the foreground (`daemon off`)
 * as the leader of its own process group, so `stop()` reaches the master and its workers. One
 * worker: it alone keeps the round-robin position, so requests alternate strictly between the
 * servers of an upstream (several workers would each keep their own).
 */
export async function startNginx(options: NginxOptions): Promise<NginxServer> {
  if (!existsSync(NGINX)) throw new Error(MISSING);
  const port = options.port ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'portero-nginx-'));
  // Run as root, nginx's workers are `nobody` and must reach the temporary directories it makes
  // for them (and chowns to them) in here. Nothing secret is kept in this directory.
  await chmod(dir, 0o755);
  const upstreams = Object.entries(options.upstreams)
    .map(([name, servers]) => `    upstream ${name} {\n${servers.map((server) => `        server ${server};\n`).join('')}    }`)
    .join('\n');
  const config = `# Written by test/support/nginx.ts for one test run.
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
        include ${options.include ?? PORTERO_LOCATIONS};
    }
}
`;
  const configPath = join(dir, 'nginx.conf');
  await writeFile(configPath, config);

  // -e: the error log from the first line on (the compiled-in one is not ours to write to).
  const child = spawn(NGINX, ['-p', dir, '-c', configPath, '-e', join(dir, 'error.log')], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  let exitCode: number | null | undefined;
  child.once('exit', (code, signal) => (exitCode = code ?? (signal ? -1 : null)));

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
    }
  };

  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exitCode !== undefined) {
      const log = await errorLog();
      stopped = true;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`nginx exited (code ${exitCode}) before ${url} answered.\n${output}\nerror log:\n${log}\nconfiguration:\n${config}`);
    }
    // Any HTTP answer will do (even 502 from an upstream): nginx itself is listening.
    const answered = await fetch(url, { signal: AbortSignal.timeout(1000), redirect: 'manual' }).then(
      async (response) => (await response.arrayBuffer(), true),
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) {
      const log = await errorLog();
      await stop().catch(() => {});
      throw new Error(`nginx: ${url} did not answer within 10 s.\n${output}\nerror log:\n${log}`);
    }
    await sleep(50);
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
