import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { createLogger } from '../../src/logger.js';
import { connectStore } from '../../src/store/connect.js';
import { LogCapture } from '../support/app.js';
import { track } from '../support/leftovers.js';
import { freePort, startRedisServer } from '../support/redis-server.js';
import { selfSignedCertificate } from '../support/tls.js';

// A real redis-server that speaks only TLS on its tls-port, asks clients for a certificate
// (tls-auth-clients), and lets only the ACL user portero read and write: what REDIS_URL's
// rediss:// and credentials, REDIS_USERNAME / REDIS_PASSWORD and REDIS_TLS_* must reach.
// Its plain port serves the harness's readiness check, for which the default user may INFO only.

const dir = mkdtempSync(join(tmpdir(), 'portero-redis-tls-'));
const untrack = track({ kind: 'dir', path: dir, name: 'redis TLS certificates' });
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const server = selfSignedCertificate();
const client = selfSignedCertificate();
const stranger = selfSignedCertificate();
const serverCa = file('server-ca.pem', server.cert);
const clientCert = file('client.pem', client.cert);
const clientKey = file('client-key.pem', client.key);
const strangerCert = file('stranger.pem', stranger.cert);
const strangerKey = file('stranger-key.pem', stranger.key);
const PASSWORD = 's3cret-redis-pass';
const tlsPort = await freePort();
const redis = await startRedisServer({
  args: [
    ...[
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      file('server.pem', server.cert),
      '--tls-key-file',
      file('server-key.pem', server.key),
    ],
    // The CAs it trusts for client certificates: the client's own (self-signed), not the stranger's.
    ...['--tls-ca-cert-file', file('clients-ca.pem', client.cert), '--tls-auth-clients', 'yes'],
    ...['--user', 'default', 'on', 'nopass', '-@all', '+info', '+ping', '+hello'],
    ...['--user', 'portero', 'on', `>${PASSWORD}`, '~*', '&*', '+@all'],
  ],
});
afterAll(async () => {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
  untrack();
});

const tlsFiles = { REDIS_TLS_CA: serverCa, REDIS_TLS_CERT: clientCert, REDIS_TLS_KEY: clientKey };

/** connectStore as src/main.ts calls it, on `env`; whether the store then writes and reads, and what it logged. */
async function outcome(env: Record<string, string>): Promise<{ works: boolean; logs: string }> {
  const logs = new LogCapture();
  const connection = await connectStore({ ...parseConfig(env).redis, startupWait: 1 }, createLogger('debug', logs));
  try {
    await connection.store.set('tls-test', 'v', 60);
    return { works: (await connection.store.getAndDelete('tls-test')) === 'v', logs: logs.raw.join('\n') };
  } catch {
    return { works: false, logs: logs.raw.join('\n') };
  } finally {
    await connection.close();
  }
}

describe('a standalone Redis over TLS with an ACL user', () => {
  it('is reached with rediss://, the credentials in the URL and the REDIS_TLS_* files, and no password is logged', async () => {
    const result = await outcome({ REDIS_URL: `rediss://portero:${PASSWORD}@127.0.0.1:${tlsPort}`, ...tlsFiles });
    expect(result.works).toBe(true);
    expect(result.logs).toContain(`rediss://portero@127.0.0.1:${tlsPort}/0`);
    expect(result.logs).not.toContain(PASSWORD);
  });

  it('takes REDIS_USERNAME and REDIS_PASSWORD when the URL has no credentials, and the URL’s own when it has', async () => {
    const url = `rediss://127.0.0.1:${tlsPort}`;
    expect((await outcome({ REDIS_URL: url, REDIS_USERNAME: 'portero', REDIS_PASSWORD: PASSWORD, ...tlsFiles })).works).toBe(true);
    expect((await outcome({ REDIS_URL: url, ...tlsFiles })).works).toBe(false);
    const withOwn = `rediss://portero:${PASSWORD}@127.0.0.1:${tlsPort}`;
    expect((await outcome({ REDIS_URL: withOwn, REDIS_USERNAME: 'portero', REDIS_PASSWORD: 'wrong', ...tlsFiles })).works).toBe(true);
    const wrongOwn = `rediss://portero:wrong@127.0.0.1:${tlsPort}`;
    expect((await outcome({ REDIS_URL: wrongOwn, REDIS_USERNAME: 'portero', REDIS_PASSWORD: PASSWORD, ...tlsFiles })).works).toBe(false);
  });

  it('fails without the CA that signed the server, and with a client certificate the server does not trust', async () => {
    const url = `rediss://portero:${PASSWORD}@127.0.0.1:${tlsPort}`;
    expect((await outcome({ REDIS_URL: url, REDIS_TLS_CERT: clientCert, REDIS_TLS_KEY: clientKey })).works).toBe(false);
    expect((await outcome({ REDIS_URL: url, REDIS_TLS_CA: serverCa })).works).toBe(false);
    expect(
      (await outcome({ REDIS_URL: url, REDIS_TLS_CA: serverCa, REDIS_TLS_CERT: strangerCert, REDIS_TLS_KEY: strangerKey })).works,
    ).toBe(false);
  });
});
