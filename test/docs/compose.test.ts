import { cp, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blocksCoveredBy } from '../support/code-blocks.js';
import { track } from '../support/leftovers.js';
import { cleanEnv, REPO_ROOT, runToExit } from '../support/process.js';

// README's "Running two instances": its commands, in a copy of the checkout of this test's own (with
// the repository's node_modules), as an operator types them there. `npm run keys` and `cp` run as
// written; `docker compose up --build` needs a container engine, which this machine has not, so the
// compose.yaml it would start is validated instead, by Debian's docker-compose (`config`): with the
// .env just copied from .env.example, which it reads too, and the key file just written.

const DOCKER_COMPOSE = '/usr/bin/docker-compose';
const [block] = blocksCoveredBy('test/docs/compose.test.ts');
const COPIED = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'compose.yaml', '.env.example'];
const UP = 'docker compose up --build';

let checkout: string;
let untrack: () => void;
const sh = (line: string) => runToExit('/bin/sh', ['-c', line], { cwd: checkout, env: cleanEnv() });
const compose = (...args: string[]) => runToExit(DOCKER_COMPOSE, ['-f', 'compose.yaml', ...args], { cwd: checkout, env: cleanEnv() });

beforeAll(async () => {
  await stat(DOCKER_COMPOSE).catch(() => {
    throw new Error(
      `${DOCKER_COMPOSE} is not installed: this test validates compose.yaml with it. Install Debian package "docker-compose".`,
    );
  });
  checkout = await mkdtemp(join(tmpdir(), 'portero-compose-'));
  untrack = track({ kind: 'dir', path: checkout, name: 'copy of the checkout for compose' });
  for (const entry of [...COPIED, 'Dockerfile', '.dockerignore', 'deploy']) {
    await cp(join(REPO_ROOT, entry), join(checkout, entry), { recursive: true });
  }
  await symlink(join(REPO_ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
});
afterAll(async () => {
  if (checkout) await rm(checkout, { recursive: true, force: true });
  untrack?.();
});

describe('README: running two instances', () => {
  const lines = (block?.text ?? '').split('\n').filter((line) => line.trim() !== '');

  it('is three commands: the key file, the .env, and compose', () => {
    expect(lines.map((line) => line.replace(/\s+#.*$/, ''))).toEqual(['npm run keys', 'cp .env.example .env', UP]);
  });

  it('runs as written up to compose, and compose.yaml is valid with what they made', async () => {
    for (const line of lines.filter((line) => !line.startsWith(UP))) {
      const ran = await sh(line);
      expect(ran.code, `${line}\n${ran.stdout}${ran.stderr}`).toBe(0);
    }
    expect((await stat(join(checkout, 'jwt-keys.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(checkout, '.env'))).isFile()).toBe(true);

    const quiet = await compose('config', '-q');
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).toBe('');
    // What compose would start: two replicas sharing the .env and the key file, behind nginx.
    const resolved = await compose('config');
    expect(resolved.code, resolved.stderr).toBe(0);
    const { services } = parse(resolved.stdout) as { services: Record<string, { volumes?: string[] }> };
    expect(Object.keys(services).sort()).toEqual(['demo-upstream', 'nginx', 'portero-a', 'portero-b', 'redis']);
    for (const replica of ['portero-a', 'portero-b']) {
      expect(services[replica]?.volumes).toEqual([
        `${join(checkout, '.env')}:/run/secrets/portero.env:ro`,
        `${join(checkout, 'jwt-keys.json')}:/run/secrets/jwt-keys.json:ro`,
      ]);
    }
  });

  it('would be refused by the same check with a mistake in compose.yaml', async () => {
    const mistaken = (await readFile(join(checkout, 'compose.yaml'), 'utf8')).replace(
      'restart: unless-stopped',
      'restarts: unless-stopped',
    );
    await writeFile(join(checkout, 'mistaken.yaml'), mistaken);
    const refused = await runToExit(DOCKER_COMPOSE, ['-f', 'mistaken.yaml', 'config', '-q'], { cwd: checkout, env: cleanEnv() });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("'restarts'");
  });
});
