import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setupServer } from 'msw/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockOidcProvider } from '../support/mock-oidc.js';
import { deadUrl, loopbackIsReal, serveGateway, tamper, type ServedGateway } from './gateway.js';

// examples/python/app.py, the WSGI backend a Python team copies, run as a real process by Debian's
// Python: it reads portero's token from the cookie or the Bearer header and verifies it with
// PyJWT against the keys of a gateway served by this process over real HTTP.

/** Debian's Python, which has the packages; the pyenv `python3` on PATH does not. */
const PYTHON = '/usr/bin/python3';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APP = 'examples/python/app.py';

interface Backend {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts app.py on a free port (PORT=0) and waits for its ready line, which names the port. */
async function startBackend(env: Record<string, string>): Promise<Backend> {
  // A bare environment: no proxy variable may send Python's JWKS request to 127.0.0.1 elsewhere.
  const child: ChildProcessWithoutNullStreams = spawn(PYTHON, [APP], {
    cwd: REPO_ROOT,
    // No __pycache__ left in examples/ by the import of verify_token.
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', HOST: '127.0.0.1', PORT: '0', ...env },
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${APP} printed no ready line within 10 s:\n${output}`)), 10_000);
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
      reject(new Error(`${APP} exited with code ${code} before it was ready:\n${output}`));
    });
  });
  return {
    url,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const idp = await new MockOidcProvider().init();
const msw = setupServer(...idp.handlers(), loopbackIsReal);
let gateway: ServedGateway;
let backend: Backend;

beforeAll(async () => {
  const probe = spawnSync(PYTHON, ['-c', 'import jwt, cryptography'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import PyJWT with its crypto backend (${probe.error?.message ?? probe.stderr.trim().split('\n').at(-1)}). ` +
        'These tests need Debian packages python3-jwt and python3-cryptography: apt-get install python3-jwt python3-cryptography',
    );
  }
  msw.listen({ onUnhandledRequest: 'error' });
  gateway = await serveGateway(idp, { env: { JWT_AUDIENCE: 'downstream-app' } });
  backend = await startBackend({ PORTERO_ISSUER: gateway.issuer, PORTERO_JWKS_URL: gateway.jwksUrl, PORTERO_AUDIENCE: 'downstream-app' });
});
afterAll(async () => {
  await backend?.stop();
  await gateway?.close();
  msw.close();
});

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

describe(`${APP} behind portero`, () => {
  it('answers 200 with the user for a token from a real sign-in, in the cookie or the Bearer header', async () => {
    const token = await gateway.signIn('u-7', { email: 'grace@example.com', email_verified: true });
    const fromCookie = await get(`${backend.url}/`, { cookie: `theme=dark; auth_token=${token}` });
    expect(fromCookie.status, backend.output()).toBe(200);
    expect(fromCookie.body).toEqual({ user: 'corp:u-7', email: 'grace@example.com' });

    const fromBearer = await get(`${backend.url}/api/me`, { authorization: `Bearer ${token}` });
    expect(fromBearer.status, backend.output()).toBe(200);
    expect(fromBearer.body).toEqual({ user: 'corp:u-7', email: 'grace@example.com' });
  });

  it('answers 401 JSON without a token', async () => {
    const none = await get(`${backend.url}/`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(none.body).toEqual({ error: 'missing_token' });
  });

  it('answers 401 JSON for a forged token and for a token of another portero', async () => {
    const forged = await get(`${backend.url}/`, { cookie: `auth_token=${tamper(await gateway.signIn('u-8'), { sub: 'corp:admin' })}` });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(forged.body).toEqual({ error: 'invalid_token' });

    // Its key is not in our gateway's JWKS: refused as the token's fault, not as keys unavailable.
    const elsewhere = await serveGateway(idp, { env: { JWT_AUDIENCE: 'downstream-app' } });
    try {
      const foreign = await get(`${backend.url}/`, { authorization: `Bearer ${await elsewhere.signIn('u-7')}` });
      expect(foreign.status).toBe(401);
      expect(foreign.body).toEqual({ error: 'invalid_token' });
    } finally {
      await elsewhere.close();
    }
  });

  it('answers 503 when it cannot fetch portero keys', async () => {
    const stranded = await startBackend({ PORTERO_ISSUER: gateway.issuer, PORTERO_JWKS_URL: await deadUrl(), PORTERO_AUDIENCE: 'downstream-app' });
    try {
      const response = await get(`${stranded.url}/`, { cookie: `auth_token=${await gateway.signIn('u-9')}` });
      expect(response.status, stranded.output()).toBe(503);
      expect(response.body).toEqual({ error: 'jwks_unavailable' });
    } finally {
      await stranded.stop();
    }
  });

  it('refuses to start without PORTERO_ISSUER, saying so', async () => {
    await expect(startBackend({})).rejects.toThrow(/exited with code 2 before it was ready:\nPORTERO_ISSUER is required/);
  });
});
