import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cleanEnv, runToExit } from '../support/process.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// What `npm start -- <flag>` runs once prestart has built dist/: node dist/main.js <flag>. A
// configuration that start-up would refuse (a named ENV_FILE that is missing), so an answer that
// read it would fail, and one that started the gateway would never exit.
const refusedConfiguration = cleanEnv({ ENV_FILE: '/nonexistent/portero.env', NODE_ENV: 'production' });
const gateway = (...args: string[]) => runToExit(process.execPath, ['dist/main.js', ...args], { env: refusedConfiguration });

describe('npm start -- --help, --version', () => {
  it('--help prints the usage and exits 0 without reading the configuration', async () => {
    const { code, stdout, stderr } = await gateway('--help');
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^portero: an OAuth 2.0 \/ OpenID Connect authentication gateway/);
    for (const part of [
      'npm run check-config',
      'NODE_ENV=production',
      'PUBLIC_URL',
      'COOKIE_SECRET',
      'JWT_KEYS',
      'REDIS_URL',
      'README.md',
      'SIGTERM',
    ]) {
      expect(stdout).toContain(part);
    }
    expect((await gateway('-h')).stdout).toBe(stdout);
  });

  it('--version prints "portero <version>" from package.json and exits 0', async () => {
    expect(await gateway('--version')).toEqual({ code: 0, stdout: `portero ${version}\n`, stderr: '' });
  });

  it('an unknown flag or an argument is one line of error and a hint, exit 2', async () => {
    const unknown = await gateway('--port=8080');
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^portero: Unknown option '--port'[^\n]*\nusage: npm start \[-- --help \| --version\]\n$/);
    const positional = await gateway('serve');
    expect(positional.code).toBe(2);
    expect(positional.stderr).toMatch(/^portero: Unexpected argument 'serve'/);
  });
});
