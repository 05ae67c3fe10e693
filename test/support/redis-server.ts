import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { track } from './leftovers.js';
import { exitOf, pollUntil, untilChildAnswers } from './wait.js';

/**
 * A real `redis-server` that the test starts, and can kill, pause and restart on the same port
 * for fault tests. It keeps nothing on disk.
 */
export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** SIGKILL: the server vanishes as in a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty, as after a crash without persistence). */
  restart(): Promise<void>;
  /** SIGSTOP: connections stay open but nothing answers. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

const MISSING =
  'redis-server is not installed: the tests need a real Redis. Install Debian package "redis-server" (apt-get install redis-server), or set REDIS_URL.';

/** Whether `port` can be listened on at 127.0.0.1 now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Ports handed out below the kernel's ephemeral range (32768 and up on Linux), one block of 7,000
 * per vitest worker, in turn from a random start. A port the kernel picked (`listen(0)`) is
 * ephemeral, so any server or outgoing connection made between this call and the bind could take
 * it ("Address already in use" when nginx binds a moment later); these ports it never hands out,
 * and the workers, running side by side, never share one.
 */
const PORT_BLOCK = 7000;
const worker = Math.max(0, Number(process.env.VITEST_POOL_ID ?? 1) - 1) % 3;
let nextPort = 10_000 + worker * PORT_BLOCK + Math.floor(Math.random() * PORT_BLOCK);

export async function freePort(): Promise<number> {
  for (let tries = 0; tries < PORT_BLOCK; tries++) {
    const port = nextPort;
    const base = 10_000 + worker * PORT_BLOCK;
    nextPort = base + ((port - base + 1) % PORT_BLOCK);
    if (await bindable(port)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

export function assertInstalled(): void {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new Error(MISSING);
}

/** The process id of the Redis answering on `port` (INFO server), or undefined when none answers. */
async function redisPid(port: number): Promise<number | undefined> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  try {
    await client.connect();
    const pid = /^process_id:(\d+)/m.exec(await client.info('server'))?.[1];
    return pid === undefined ? undefined : Number(pid);
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

/**
 * Spawns redis-server on `port`, recorded in the run's file until it exits; resolves once it, and
 * not another, answers there. `configFile` goes first on the command line, as redis-server wants
 * it (a sentinel's, which it rewrites).
 */
export async function spawnRedis(port: number, extraArgs: readonly string[] = [], configFile?: string): Promise<ChildProcess> {
  const args = [
    ...(configFile ? [configFile] : []),
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning', ...extraArgs],
  ];
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  if (child.pid !== undefined) child.once('exit', track({ kind: 'process', pid: child.pid, name: `redis-server on port ${port}` }));
  try {
    await untilChildAnswers(child, 'redis-server', async () => (await redisPid(port)) !== undefined, {
      what: `a Redis to answer on 127.0.0.1:${port}`,
      timeoutMs: 10_000,
      isOwn: async () => (await redisPid(port)) === child.pid,
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return child;
}

/**
 * Starts a server on `port` (a free one by default), e.g. where a gateway already expects it, with
 * `args` added to its command line (`['--maxmemory', '2mb', '--maxmemory-policy', 'volatile-lru']`), restarts included.
 */
export async function startRedisServer(options: { port?: number; args?: readonly string[] } = {}): Promise<RedisServer> {
  assertInstalled();
  const port = options.port ?? (await freePort());
  let child = await spawnRedis(port, options.args);
  const exited = () =>
    new Promise<void>((resolve) => {
      if (exitOf(child)) resolve();
      else child.once('exit', () => resolve());
    });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async kill() {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited();
    },
    async restart() {
      child = await spawnRedis(port, options.args);
    },
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
    async stop() {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited();
    },
  };
}

/**
 * A Redis Cluster of one node that holds every slot: the smallest real cluster. Clients must
 * speak the cluster protocol to it, and it refuses, as every cluster does, a command or script
 * whose keys fall in different slots (CROSSSLOT), even on this one node.
 */
export interface RedisClusterNode {
  readonly host: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startRedisClusterNode(): Promise<RedisClusterNode> {
  assertInstalled();
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'portero-redis-cluster-'));
  const untrack = track({ kind: 'dir', path: dir, name: `redis cluster node ${port}` });
  const child = await spawnRedis(port, [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, 'nodes.conf'),
    '--dir',
    dir,
    '--cluster-announce-ip',
    '127.0.0.1',
  ]);
  const stop = async () => {
    child.kill('SIGKILL');
    if (!exitOf(child)) await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await rm(dir, { recursive: true, force: true });
    untrack();
  };
  const admin = new Redis({ port, host: '127.0.0.1' });
  try {
    await admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await pollUntil(async () => /cluster_state:ok/.test(String(await admin.call('CLUSTER', 'INFO'))), {
      what: `the one-node cluster on port ${port} to be ok`,
      timeoutMs: 10_000,
    });
  } catch (err) {
    await stop();
    throw err;
  } finally {
    admin.disconnect();
  }
  return { host: '127.0.0.1', port, stop };
}

/**
 * The Redis for tests that need one but do not break it: `REDIS_URL` when set, else a server of
 * the test's own. Fault tests always call `startRedisServer` instead.
 */
export async function testRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} };
  return startRedisServer();
}
