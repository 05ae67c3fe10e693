import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCaddy } from './caddy.js';
import { removeLeftovers, track } from './leftovers.js';
import { startNginx } from './nginx.js';
import { startGateway } from './process.js';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';
import { exitOf } from './wait.js';

// The start helpers themselves: what a dead test worker leaves is removed at the end of the run,
// and a port taken by another server between freePort() and the bind is refused, not used.

/** What this file started, stopped after each test whatever happened. */
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const ended = (child: ChildProcess) =>
  new Promise<string>((resolve) => (exitOf(child) ? resolve(exitOf(child)!) : child.once('exit', () => resolve(exitOf(child)!))));

function sleeper(options: { detached?: boolean } = {}): ChildProcess {
  const child = spawn('sleep', ['300'], { stdio: 'ignore', ...options });
  cleanups.push(() => child.kill('SIGKILL'));
  return child;
}

describe('removeLeftovers (the teardown of test/global-setup.ts)', () => {
  // As a test worker that died would leave its run file: started, never stopped. A file of this
  // test's own, not the run's, so that other test files' programs are not touched.
  it('kills the process groups and processes still recorded, removes the directories and the file, and spares what ended', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'portero-leftovers-test-')), 'run.jsonl');
    cleanups.push(() => removeLeftovers(file));
    const group = sleeper({ detached: true });
    const lone = sleeper();
    const stopped = sleeper();
    const dir = await mkdtemp(join(tmpdir(), 'portero-leftovers-test-'));
    track({ kind: 'group', pid: group.pid!, name: 'npm start' }, file);
    track({ kind: 'process', pid: lone.pid!, name: 'redis-server' }, file);
    track({ kind: 'dir', path: dir, name: 'nginx' }, file);
    track({ kind: 'process', pid: stopped.pid!, name: 'stopped' }, file)();
    // A pid recorded for a process that ended, which the kernel has since given to another.
    const reused = sleeper();
    appendFileSync(file, `${JSON.stringify({ started: true, kind: 'process', pid: reused.pid, name: 'ended long ago', since: '1' })}\n`);
    track({ kind: 'dir', path: join(file, '..'), name: 'this test' }, file);

    const left = await removeLeftovers(file);

    expect(left.map((item) => item.name)).toEqual(['npm start', 'redis-server', 'nginx', 'this test']);
    expect(await ended(group)).toBe('signal SIGKILL');
    expect(await ended(lone)).toBe('signal SIGKILL');
    expect(exitOf(stopped), 'a process recorded as stopped was killed').toBeUndefined();
    expect(exitOf(reused), 'a process that took a recorded pid later was killed').toBeUndefined();
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(await removeLeftovers(file), 'a run that started nothing').toEqual([]);
  });
});

describe('a port another server took after freePort()', () => {
  async function foreignHttpServer(): Promise<number> {
    const port = await freePort();
    const server: Server = createServer((_req, res) => res.end('not yours'));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    return port;
  }

  it('startRedisServer refuses it, rather than hand the test another Redis', async () => {
    const other: RedisServer = await startRedisServer();
    cleanups.push(() => other.stop());
    await expect(startRedisServer({ port: other.port })).rejects.toThrow(
      new RegExp(`^another server answered while waiting for a Redis to answer on 127\\.0\\.0\\.1:${other.port}: `),
    );
  });

  it('startNginx refuses it: the answer came, but nginx wrote no pid file (it never bound the port)', async () => {
    const port = await foreignHttpServer();
    const start = startNginx({ port, upstreams: { portero: ['127.0.0.1:9'], app: ['127.0.0.1:9'] } });
    await expect(start).rejects.toThrow(
      new RegExp(`^another server answered while waiting for http://127\\.0\\.0\\.1:${port} to answer: not nginx \\(pid \\d+\\)`),
    );
  });

  it('startCaddy refuses it: the answer came, but not from this Caddy, which cannot bind the port', async () => {
    const port = await foreignHttpServer();
    const start = startCaddy({ port, portero: ['127.0.0.1:9'], app: '127.0.0.1:9' });
    await expect(start).rejects.toThrow(
      new RegExp(`^(another server answered while waiting for http://127\\.0\\.0\\.1:${port} to answer: |caddy exited \\(code 1\\))`),
    );
  });

  it('startGateway refuses it: /healthz answered, but the gateway never logged that it listens, and exits', async () => {
    const port = await foreignHttpServer();
    const start = startGateway({ env: { PORT: String(port) } });
    await expect(start).rejects.toThrow(
      /^node dist\/main\.js exited \(code [1-9]\d*\) while waiting for http:\/\/localhost:\d+\/healthz[\s\S]*EADDRINUSE/,
    );
  });
});
