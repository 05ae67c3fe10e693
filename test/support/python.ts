import { spawn, spawnSync } from 'node:child_process';
import { track } from './leftovers.js';
import { REPO_ROOT, runToExit, type Exited } from './process.js';

// Python backends that check portero's tokens with PyJWT: examples/python/app.py (WSGI, served)
// and examples/python/verify_token.py (one token, then exit), run as real processes.

/** Debian's Python, which has the packages; the pyenv `python3` on PATH does not. */
export const PYTHON = '/usr/bin/python3';
/** The WSGI backend a Python team copies, relative to the repository root. */
export const PYTHON_APP = 'examples/python/app.py';

/**
 * A bare environment: no proxy variable may send Python's JWKS request to 127.0.0.1 elsewhere, and
 * no __pycache__ is left in examples/ by app.py's import of verify_token.
 */
export const PYTHON_ENV = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' };

/** Throws, naming the Debian packages to install, unless {@link PYTHON} imports PyJWT with its crypto backend. */
export function assertPythonJwt(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import jwt, cryptography'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import PyJWT with its crypto backend (${probe.error?.message ?? probe.stderr.trim().split('\n').at(-1)}). ` +
        'These tests need Debian packages python3-jwt and python3-cryptography: apt-get install python3-jwt python3-cryptography',
    );
  }
}

/** Throws, naming the Debian packages to install, unless {@link PYTHON} imports Authlib and requests (examples/apps/authlib_app.py). */
export function assertPythonAuthlib(): void {
  const probe = spawnSync(PYTHON, ['-c', 'import authlib, requests'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import Authlib and requests (${probe.error?.message ?? probe.stderr.trim().split('\n').at(-1)}). ` +
        'The apps test needs Debian packages python3-authlib and python3-requests: apt-get install python3-authlib python3-requests',
    );
  }
}

/** Runs {@link PYTHON} with `args` in the bare environment plus `env`, to its end. */
export function runPython(args: readonly string[], env: Record<string, string> = {}): Promise<Exited> {
  return runToExit(PYTHON, args, { env: { ...PYTHON_ENV, ...env } });
}

export interface PythonBackend {
  readonly url: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/** The portero whose tokens the backend accepts. */
export interface PythonBackendOptions {
  issuer: string;
  jwksUrl: string;
  audience: string;
  /** PORTERO_ALGORITHMS, portero's JWT_ALG; unset (app.py's default, ES256) when not given. */
  algorithms?: readonly string[];
  /** PORTERO_COOKIE, portero's TOKEN_COOKIE_NAME; unset (app.py's default, __Host-auth_token) when not given. */
  cookie?: string;
}

/** {@link PYTHON_APP} on a free port, as a Python team runs it behind portero; resolves on its ready line. */
export function startPythonBackend({ issuer, jwksUrl, audience, algorithms, cookie }: PythonBackendOptions): Promise<PythonBackend> {
  return startPythonApp({
    PORTERO_ISSUER: issuer,
    PORTERO_JWKS_URL: jwksUrl,
    PORTERO_AUDIENCE: audience,
    ...(algorithms ? { PORTERO_ALGORITHMS: algorithms.join(',') } : {}),
    ...(cookie ? { PORTERO_COOKIE: cookie } : {}),
  });
}

/**
 * {@link PYTHON_APP} with exactly the PORTERO_* variables in `env` (none, to see it refuse to start),
 * on a free port (PORT=0). Resolves on its ready line, which names the port; rejects with its output
 * if it exits first or prints none within 10 s.
 */
export async function startPythonApp(env: Record<string, string>): Promise<PythonBackend> {
  const child = spawn(PYTHON, [PYTHON_APP], { cwd: REPO_ROOT, env: { ...PYTHON_ENV, HOST: '127.0.0.1', PORT: '0', ...env } });
  // Registered for the run's teardown, so a worker that dies does not leave the backend running.
  if (child.pid) child.once('exit', track({ kind: 'process', pid: child.pid, name: PYTHON_APP }));
  let output = '';
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${PYTHON_APP} printed no ready line within 10 s:\n${output}`)), 10_000);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        const ready = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(output);
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]!);
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.once('error', reject);
      // 'close', not 'exit': by then everything it printed has been read.
      child.once('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`${PYTHON_APP} exited with code ${code} before it was ready:\n${output}`));
      });
    });
    return { url, output: () => output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * The token with its header replaced and its payload and signature kept, as a forger would try:
 * another `alg` for the same `kid`, or a `kid` the gateway never published.
 */
export function withHeader(token: string, header: Record<string, unknown>): string {
  const [, payload, signature] = token.split('.');
  return [Buffer.from(JSON.stringify(header)).toString('base64url'), payload, signature].join('.');
}
