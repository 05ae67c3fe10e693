/** portero as an operator runs it: `node dist/main.js` with `npm start`'s flags, in production mode, on Redis, with a key file from `npm run keys`. */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, type Started, freePort, start } from './processes.js';
import { OP_CLIENT_ID, OP_CLIENT_SECRET } from './stub-op.js';
import { PROVIDER } from './flows.js';

/** Writes a JWKS file of one ES256 signing key with portero's own tool (dist/cli/keys.js, what `npm run keys` runs). */
async function writeKeys(path: string): Promise<void> {
  await promisify(execFile)(process.execPath, ['dist/cli/keys.js', '--alg', 'ES256', '--out', path], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ENV_FILE: '/dev/null' },
  });
}

/**
 * The node flags `npm start` runs portero with (the memory settings of docs/OPERATIONS.md, which
 * the Docker image sets as NODE_OPTIONS too), read from package.json so the bench measures what
 * operators run.
 */
function productionNodeFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  return (scripts.start ?? '').split(/\s+/).filter((word) => word.startsWith('--'));
}

export async function startPortero(options: { dir: string; redisUrl: string; issuer: string }): Promise<Started> {
  const keysFile = join(options.dir, 'jwt-keys.json');
  await writeKeys(keysFile);
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const prefix = `PROVIDER_${PROVIDER.toUpperCase()}_`;
  return start('portero', process.execPath, [...productionNodeFlags(), join(REPO_ROOT, 'dist/main.js')], {
    port,
    logFile: join(options.dir, 'portero.log'),
    env: {
      ENV_FILE: '/dev/null',
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: origin,
      REDIS_URL: options.redisUrl,
      COOKIE_SECRET: randomBytes(48).toString('base64'),
      JWT_KEYS: keysFile,
      JWT_ALG: 'ES256',
      // One client address makes every request: a per-address limit would answer 429 at once.
      RATE_LIMIT_LOGIN: 'off',
      RATE_LIMIT_CALLBACK: 'off',
      RATE_LIMIT_REFRESH: 'off',
      [`${prefix}TYPE`]: 'oidc',
      [`${prefix}ISSUER`]: options.issuer,
      [`${prefix}CLIENT_ID`]: OP_CLIENT_ID,
      [`${prefix}CLIENT_SECRET`]: OP_CLIENT_SECRET,
    },
    ready: async () => (await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200,
  });
}
