/**
 * The programs the bench starts: redis-server, portero (`node dist/main.js`), and the servers of
 * servers.ts. Each is a child in the bench's own process group (so a signal to the group, as the
 * smoke test sends, reaches them all) and is stopped when the bench exits, however it exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from bench/dist/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Started {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly origin: string;
  /** What it printed, for the message when it fails. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
const stopAll = () => {
  for (const child of running) child.kill('SIGKILL');
};
process.once('exit', stopAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopAll();
    process.exit(130);
  });
}

/** A port nothing listens on now, picked by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Spawns `command` with `args` and `env` (added to a bare PATH and HOME), and waits, at most 20 s,
 * until `ready()` says it serves; fails with its output when it exits first or the time runs out.
 */
export async function start(
  name: string,
  command: string,
  args: readonly string[],
  options: { port: number; env?: Record<string, string>; logFile?: string; ready: (output: string) => Promise<boolean> },
): Promise<Started> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...options.env };
  // A server that logs every request writes to a file: read through a pipe, its lines would cost
  // the bench process (the load generator) CPU.
  const fd = options.logFile ? openSync(options.logFile, 'a') : undefined;
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'] });
  if (fd !== undefined) closeSync(fd);
  running.add(child);
  let piped = '';
  const append = (chunk: string) => {
    piped = (piped + chunk).slice(-20_000);
  };
  child.stdout?.setEncoding('utf8').on('data', append);
  child.stderr?.setEncoding('utf8').on('data', append);
  const output = () => (options.logFile ? readFileSync(options.logFile, 'utf8').slice(-20_000) : piped);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 20_000;
  while (!(await options.ready(output()).catch(() => false))) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited before it served:\n${output()}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} did not serve within 20 s:\n${output()}`);
    }
    await sleep(50);
  }
  const pid = child.pid ?? 0;
  return { name, pid, port: options.port, origin: `http://127.0.0.1:${options.port}`, output, stop };
}

/** A redis-server on a free port, keeping nothing on disk. */
export async function startRedis(): Promise<Started> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'notice'];
  return start('redis-server', 'redis-server', args, { port, ready: async (output) => output.includes('Ready to accept') });
}

/** One of servers.ts's servers. */
export async function startServer(kind: string, args: readonly string[] = []): Promise<Started> {
  const port = await freePort();
  const script = fileURLToPath(new URL('./servers.js', import.meta.url));
  return start(kind, process.execPath, [script, kind, String(port), ...args], {
    port,
    env: { NODE_ENV: 'production' },
    ready: async (output) => output.includes(`listening ${port}`),
  });
}
