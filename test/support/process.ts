import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { track } from './leftovers.js';
import { freePort } from './redis-server.js';
import { pollUntil, untilChildAnswers } from './wait.js';

/** The repository root, where a newcomer types `npm start`. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A newcomer's shell with nothing configured: PATH and HOME only, and `ENV_FILE=/dev/null` so a
 * developer's own `.env` in the checkout is not read. Everything else (PROVIDER_*, REDIS_URL,
 * NODE_ENV=test from vitest, npm_* variables) is left behind; `extra` adds what a test means to set.
 */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ENV_FILE: '/dev/null', ...extra };
}

/** How a program run to its end ended: its exit code (null when a signal ended it) and what it printed. */
export interface Exited {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** The repository root by default. */
  cwd?: string;
  /** The whole environment; {@link cleanEnv} by default. */
  env?: Record<string, string>;
}

/**
 * Runs a program to its end, in the repository root with a newcomer's bare environment unless
 * `options` says otherwise. Asynchronous, so a server in this process (a JWKS) can answer it.
 */
export function runToExit(command: string, args: readonly string[], options: RunOptions = {}): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? REPO_ROOT, env: options.env ?? cleanEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * What the tests run as a gateway: the compiled gateway (built once per run by test/global-setup.ts),
 * run by node as `npm start` runs it, without npm in between (test/dev/npm-start.test.ts runs `npm start` itself).
 */
export const GATEWAY = 'node dist/main.js';

/** A gateway started with `node dist/main.js`, as its own process group. */
export interface GatewayProcess {
  /**
   * Where it listens: `http://localhost:<port>` (PUBLIC_URL's default), or `http://<HOST>:<port>`
   * when HOST names one address. Never PUBLIC_URL: behind a proxy that is the proxy's address.
   */
  readonly url: string;
  readonly port: number;
  /** Everything it printed so far, stdout and stderr, in the order it arrived. */
  logs(): string;
  /** The JSON log lines it printed so far (plain lines are left out). */
  logLines(): Record<string, unknown>[];
  /** Sends `signal` to the gateway's process (SIGHUP: reload the keys; SIGTERM: drain and exit). */
  signal(signal: NodeJS.Signals): void;
  /** Its exit code once it has exited by itself or by a signal it handles (null when a signal killed it). */
  readonly exited: Promise<number | null>;
  /** SIGTERM to the whole process group; resolves once no process of it remains. */
  stop(): Promise<void>;
}

export interface StartGatewayOptions {
  /** Configuration variables, added to {@link cleanEnv}. PORT defaults to a free port. */
  env?: Record<string, string>;
  /** How long to wait for `/healthz`; 20 s by default. */
  timeoutMs?: number;
}

/** For each group spawnGroup() started: records in the run's file that it is gone (test/support/leftovers.ts). */
const untrackGroup = new WeakMap<ChildProcess, () => void>();

/**
 * Spawns `command` detached: the child leads a new process group, so one signal reaches it and
 * everything under it (nginx's master and workers, npm and what it runs). The group is recorded
 * in the run's file until {@link stopGroup} has emptied it, so a test worker that dies leaves none.
 */
export function spawnGroup(command: string, args: readonly string[], options: SpawnOptions, name: string): ChildProcess {
  const child = spawn(command, args, { ...options, detached: true });
  if (child.pid !== undefined) untrackGroup.set(child, track({ kind: 'group', pid: child.pid, name }));
  return child;
}

function launch(env: Record<string, string>) {
  const child = spawnGroup(process.execPath, ['dist/main.js'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }, GATEWAY);
  const output = { all: '', stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output.all += chunk;
    output.stdout += chunk;
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output.all += chunk;
    output.stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output, exited };
}

/** Whether any process of the group led by `pid` is still there. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // The group is already empty.
  }
}

/**
 * SIGTERM to the process group that `child` leads (started by {@link spawnGroup}), then waits for
 * the group to empty; SIGKILL and an error naming `name` if it has not within `ms`.
 */
export async function stopGroup(child: ChildProcess, describe: () => string, options: { ms?: number; name?: string } = {}): Promise<void> {
  const { ms = 10_000, name = GATEWAY } = options;
  const pid = child.pid;
  if (pid === undefined) return;
  try {
    signalGroup(child, 'SIGTERM');
    await pollUntil(() => !groupAlive(pid), { what: `${name} (process group ${pid}) to end`, timeoutMs: ms }).catch((err: unknown) => {
      signalGroup(child, 'SIGKILL');
      throw new Error(`${name} (process group ${pid}) still ran ${ms} ms after SIGTERM; killed it. Output:\n${describe()}`, { cause: err });
    });
  } finally {
    untrackGroup.get(child)?.();
  }
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/**
 * Runs the gateway (`node dist/main.js`) in the repository root with a clean environment plus `options.env`, and waits
 * until `/healthz` answers 200 and the process has logged `portero listening` on its port (info
 * level: a LOG_LEVEL above it would hide the line). Fails with the process's output when it exits
 * or stays silent.
 */
export async function startGateway(options: StartGatewayOptions = {}): Promise<GatewayProcess> {
  const env = cleanEnv({ PORT: String(await freePort()), ...options.env });
  const port = Number(env.PORT);
  // Its own port, not PUBLIC_URL (behind nginx that is nginx's); on HOST when that is one address.
  const host = !env.HOST || env.HOST === '0.0.0.0' || env.HOST === '::' ? 'localhost' : env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  const url = `http://${host}:${port}`;
  const { child, output, exited } = launch(env);
  const describe = () => output.all || '(no output)';

  // Healthy, and its own: it logged that it listens on that port (a server that took the port
  // after freePort() looked would answer /healthz too, but never make this process log that).
  const listening = () => jsonLines(output.stdout).some((line) => line.msg === 'portero listening' && line.port === port);
  const healthy = () =>
    fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.status === 200 && listening(),
      () => false,
    );
  try {
    const what = `${url}/healthz to answer 200 and the "portero listening" log line`;
    await untilChildAnswers(child, GATEWAY, healthy, { what, timeoutMs: options.timeoutMs ?? 20_000, intervalMs: 100 });
  } catch (err) {
    await stopGroup(child, describe).catch(() => {});
    await exited; // Everything it printed has been read.
    throw new Error(`${(err as Error).message}. Output:\n${describe()}`, { cause: err });
  }

  return {
    url,
    port,
    logs: () => output.all,
    logLines: () => jsonLines(output.stdout),
    signal: (signal) => child.kill(signal),
    exited,
    stop: () => stopGroup(child, describe),
  };
}

/** Runs the gateway until it exits by itself (a configuration refused, say): its exit code and output. */
export async function runGatewayToExit(extraEnv: Record<string, string>, timeoutMs = 20_000): Promise<Exited> {
  const { child, output, exited } = launch(cleanEnv({ PORT: String(await freePort()), ...extraEnv }));
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  await stopGroup(child, () => output.all); // Whatever of the group is left (nothing, normally); marks it gone.
  if (child.signalCode === 'SIGKILL') throw new Error(`${GATEWAY} did not exit within ${timeoutMs} ms. Output:\n${output.all}`);
  return { code, stdout: output.stdout, stderr: output.stderr };
}
