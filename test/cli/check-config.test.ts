import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { generateKeyJwk } from '../../src/tokens/keys.js';
import { type OidcOp, startOidcOp } from '../support/oidc-op.js';
import { cleanEnv, type Exited, REPO_ROOT, runToExit } from '../support/process.js';
import { freePort, type RedisServer, startRedisServer } from '../support/redis-server.js';
import { selfSignedCertificate } from '../support/tls.js';

// What `npm run check-config` runs once it has built dist/ (test/build-setup.ts builds it for the run).
const SCRIPT = join(REPO_ROOT, 'dist/cli/check-config.js');
const REDIS_USER = 'portero';
const REDIS_PASSWORD = `redis-${randomBytes(12).toString('hex')}`;
const COOKIE_SECRET = randomBytes(36).toString('base64url');

let dir: string;
let redis: RedisServer;
let op: OidcOp;
let keysFile: string;
let privateD: string;
let kid: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portero-check-config-'));
  // An ACL user with a password: the credentials in REDIS_URL are used, and must not be printed.
  redis = await startRedisServer({ args: ['--user', REDIS_USER, 'on', `>${REDIS_PASSWORD}`, '~*', '&*', '+@all'] });
  op = await startOidcOp({ redirectUris: ['https://auth.example.com/callback/corp'] });
  const key = await generateKeyJwk('ES256');
  privateD = String(key.d);
  kid = String(key.kid);
  keysFile = join(dir, 'jwt-keys.json');
  await writeFile(keysFile, JSON.stringify({ keys: [key] }), { mode: 0o600 });
  await chmod(keysFile, 0o600);
});

afterAll(async () => {
  await op?.close();
  await redis?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `node dist/cli/check-config.js` with a newcomer's bare environment plus `env` (ENV_FILE=/dev/null unless `env` says). */
function checkConfig(env: Record<string, string>, cwd = dir): Promise<Exited> {
  return runToExit(process.execPath, [SCRIPT], { cwd, env: cleanEnv(env) });
}

/** The table row of `name`: its cells, split on the runs of spaces between them. */
function row(stdout: string, name: string): string[] | undefined {
  const line = stdout.split('\n').find((text) => text.startsWith(`  ${name} `));
  return line?.trim().split(/ {2,}/);
}

/** A production configuration that works: a real Redis, a real OpenID provider, and its endpoints again as a plain OAuth 2.0 provider. */
const goodEnv = () => ({
  NODE_ENV: 'production',
  PUBLIC_URL: 'https://auth.example.com',
  COOKIE_SECRET,
  JWT_KEYS: keysFile,
  REDIS_URL: `redis://${REDIS_USER}:${REDIS_PASSWORD}@127.0.0.1:${redis.port}/0`,
  ...op.env('corp'),
  PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS: 'corp.example',
  PROVIDER_WIKI_TYPE: 'oauth2',
  PROVIDER_WIKI_CLIENT_ID: 'wiki',
  PROVIDER_WIKI_CLIENT_SECRET: op.clientSecret,
  PROVIDER_WIKI_AUTHORIZATION_URL: `${op.issuer}/auth`,
  PROVIDER_WIKI_TOKEN_URL: `${op.issuer}/token`,
  PROVIDER_WIKI_USERINFO_URL: `${op.issuer}/me`,
  PROVIDER_WIKI_ALLOW_ALL: 'true',
});

describe('npm run check-config', () => {
  it('passes a working production configuration: exit 0, every value shown, every secret masked', async () => {
    const { code, stdout, stderr } = await checkConfig(goodEnv());
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^portero \d+\.\d+\.\d+ check-config: production mode/);
    expect(row(stdout, 'PUBLIC_URL')).toEqual(['PUBLIC_URL', 'https://auth.example.com', 'set']);
    expect(row(stdout, 'COOKIE_SECRET')).toEqual(['COOKIE_SECRET', '****', 'set']);
    expect(row(stdout, 'REDIS_URL')).toEqual(['REDIS_URL', `redis://${REDIS_USER}:****@127.0.0.1:${redis.port}/0`, 'set']);
    expect(row(stdout, 'JWT_KEYS')).toEqual(['JWT_KEYS', keysFile, 'set']);
    expect(row(stdout, 'PROVIDER_CORP_ISSUER')).toEqual(['PROVIDER_CORP_ISSUER', op.issuer, 'set']);
    expect(row(stdout, 'PROVIDER_CORP_CLIENT_SECRET')).toEqual(['PROVIDER_CORP_CLIENT_SECRET', '****', 'set']);
    expect(row(stdout, 'LOG_LEVEL')).toEqual(['LOG_LEVEL', 'default']);

    expect(stdout).toMatch(new RegExp(`ok +JWT_KEYS ${keysFile} +1 key: signs with kid ${kid} \\(ES256\\)`));
    expect(stdout).toMatch(new RegExp(`ok +Redis redis://${REDIS_USER}@127.0.0.1:${redis.port}/0 +answers PING, and keeps every key`));
    expect(stdout).toMatch(new RegExp(`ok +provider corp \\(oidc\\) +discovery answers: issuer ${op.issuer}`));
    expect(stdout).toMatch(new RegExp(`ok +provider corp \\(oidc\\) +jwks_uri ${op.issuer}/\\S+ answers \\(HTTP 200\\)`));
    // A token endpoint asked with no code and no credentials answers with an error: it is there.
    expect(stdout).toMatch(new RegExp(`ok +provider wiki \\(oauth2\\) +token_endpoint ${op.issuer}/token answers \\(HTTP 4\\d\\d\\)`));
    expect(stdout).toMatch(new RegExp(`ok +provider wiki \\(oauth2\\) +userinfo_endpoint ${op.issuer}/me answers \\(HTTP \\d{3}\\)`));
    expect(stdout).not.toMatch(/FAIL|warn/);
    expect(stdout).toContain('Result: good');

    for (const secret of [COOKIE_SECRET, REDIS_PASSWORD, op.clientSecret, privateD]) expect(stdout + stderr).not.toContain(secret);
  });

  it('names every problem with its cause: exit 1', async () => {
    const closed = await freePort(); // nothing listens there
    const broken = join(dir, 'broken-keys.json');
    const keyMaterial = randomBytes(24).toString('base64url');
    // Not JSON at all: JSON.parse's message would quote the file's first characters, key material.
    await writeFile(broken, `d: ${keyMaterial}\n`, { mode: 0o600 });
    const misspeltSecret = randomBytes(20).toString('hex');
    // An https provider whose certificate nothing trusts: the TLS error is the cause.
    const untrusted = createServer(selfSignedCertificate(), (_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => untrusted.listen(0, '127.0.0.1', resolve));
    const tlsIssuer = `https://127.0.0.1:${(untrusted.address() as AddressInfo).port}`;
    onTestFinished(() => new Promise<void>((resolve) => untrusted.close(() => resolve())));
    const { code, stdout, stderr } = await checkConfig({
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://auth.example.com',
      JWT_KEYS: broken,
      REDIS_URL: 'redis://127.0.0.1:9',
      REDIS_STARTUP_WAIT: '1',
      PROVIDER_CORP_TYPE: 'oidc',
      PROVIDER_CORP_ISSUER: `http://127.0.0.1:${closed}`,
      PROVIDER_CORP_CLIENT_ID: 'portero',
      PROVIDER_CORP_CLIENT_SECRET: 'corp-secret',
      PROVIDER_CORP_CLIENT_SECRT: misspeltSecret,
      PROVIDER_CORP_ALLOWED_EMAIL_DOMAINS: 'corp.example',
      PROVIDER_WIKI_TYPE: 'oauth2',
      PROVIDER_WIKI_CLIENT_ID: 'wiki',
      PROVIDER_WIKI_CLIENT_SECRET: 'wiki-secret',
      PROVIDER_WIKI_AUTHORIZATION_URL: 'http://127.0.0.1:9/authorize',
      PROVIDER_WIKI_TOKEN_URL: 'http://127.0.0.1:9/token',
      PROVIDER_WIKI_USERINFO_URL: 'http://127.0.0.1:9/user',
      PROVIDER_WIKI_ALLOW_ALL: 'true',
      PROVIDER_TLS_TYPE: 'oidc',
      PROVIDER_TLS_ISSUER: tlsIssuer,
      PROVIDER_TLS_CLIENT_ID: 'portero',
      PROVIDER_TLS_CLIENT_SECRET: 'tls-secret',
      PROVIDER_TLS_ALLOWED_EMAIL_DOMAINS: 'corp.example',
      FLOW_TTL: 'soon',
    });
    expect({ code, stderr }).toEqual({ code: 1, stderr: '' });

    expect(row(stdout, 'COOKIE_SECRET')).toEqual([
      'COOKIE_SECRET',
      expect.stringMatching(/^missing: COOKIE_SECRET is required in production/),
    ]);
    expect(row(stdout, 'FLOW_TTL')).toEqual(['FLOW_TTL', 'soon', 'wrong: FLOW_TTL must be a whole number from 30 to 3600, got "soon"']);
    expect(row(stdout, 'PROVIDER_CORP_CLIENT_SECRT')).toEqual([
      'PROVIDER_CORP_CLIENT_SECRT',
      '****',
      expect.stringMatching(/^wrong: PROVIDER_CORP_CLIENT_SECRT is not a provider setting/),
    ]);

    expect(stdout).toMatch(/FAIL +Redis redis:\/\/127.0.0.1:9\/0 +unreachable: connect ECONNREFUSED 127.0.0.1:9/);
    // The first login would meet the same: discovery at the address asked, with the network's own cause.
    expect(stdout).toMatch(
      new RegExp(
        `FAIL +provider corp \\(oidc\\) +cannot reach corp for discovery at http://127.0.0.1:${closed}/.well-known/openid-configuration: fetch failed: connect ECONNREFUSED 127.0.0.1:${closed}`,
      ),
    );
    // Port 9 is one the Fetch standard blocks: fetch refuses it before connecting, and says so.
    expect(stdout).toMatch(/FAIL +provider wiki \(oauth2\) +token_endpoint http:\/\/127.0.0.1:9\/token: fetch failed: bad port/);
    expect(stdout).toContain(
      `cannot reach tls for discovery at ${tlsIssuer}/.well-known/openid-configuration: fetch failed: self-signed certificate`,
    );
    expect(stdout).toMatch(new RegExp(`FAIL +JWT_KEYS ${broken} +JWT_KEYS: cannot read ${broken} as JSON: it is not valid JSON`));
    expect(stdout).toMatch(/Result: 3 problems in the settings \(portero would not start\), 6 checks failed\.$/m);

    for (const secret of [keyMaterial, misspeltSecret, 'corp-secret', 'wiki-secret', 'tls-secret'])
      expect(stdout + stderr).not.toContain(secret);
  });

  it('reads .env (or ENV_FILE) as start-up does, the environment winning, and warns of a misspelt setting', async () => {
    const work = await mkdtemp(join(dir, 'cwd-'));
    await writeFile(
      join(work, '.env'),
      `COOKIE_SECRET=${COOKIE_SECRET}\nBRAND_NAME=From the file\nLOG_LEVEL=debug\nREDIS_ULR=redis://127.0.0.1:1\n`,
    );
    const { ENV_FILE: _none, ...withoutEnvFile } = cleanEnv({ LOG_LEVEL: 'warn' });
    const { code, stdout } = await runToExit(process.execPath, [SCRIPT], { cwd: work, env: withoutEnvFile });
    expect(code).toBe(0);
    expect(stdout).toContain(`settings from the environment, over ${join(work, '.env')}`);
    expect(row(stdout, 'BRAND_NAME')).toEqual(['BRAND_NAME', 'From the file', 'set']);
    expect(row(stdout, 'LOG_LEVEL')).toEqual(['LOG_LEVEL', 'warn', 'set']);
    expect(row(stdout, 'COOKIE_SECRET')).toEqual(['COOKIE_SECRET', '****', 'set']);
    expect(stdout).toContain('REDIS_ULR is not a setting of portero: did you mean REDIS_URL? (it is ignored)');
    // Development mode: what it would make up, named; the cookie secret is set, so not that.
    expect(stdout).toContain('Development mode (NODE_ENV is not production) makes up what production requires:');
    expect(stdout).toContain('JWT_KEYS: an ephemeral signing key');
    expect(stdout).toContain('the built-in development IdP as provider "dev"');
    expect(stdout).not.toContain('COOKIE_SECRET: a random one');
    expect(stdout).not.toContain(COOKIE_SECRET);

    const named = join(work, 'other.env');
    await writeFile(named, 'BRAND_NAME=Named file\n');
    const other = await checkConfig({ ENV_FILE: named }, work);
    expect(row(other.stdout, 'BRAND_NAME')).toEqual(['BRAND_NAME', 'Named file', 'set']);

    const missing = await checkConfig({ ENV_FILE: join(work, 'nowhere.env') }, work);
    expect(missing).toEqual({
      code: 1,
      stdout: '',
      stderr: `check-config: ENV_FILE names ${join(work, 'nowhere.env')}, which does not exist\n`,
    });
  });

  it('lists each app as registered (confidential or public, its URIs counted, back-channel or not), never its secret', async () => {
    const appSecret = randomBytes(24).toString('hex');
    const misspeltSecret = randomBytes(24).toString('hex');
    const apps = {
      APP_TEAM_WIKI_SECRET: appSecret,
      APP_TEAM_WIKI_REDIRECT_URIS: 'https://wiki.example.org/cb,https://wiki.example.org/alt',
      APP_TEAM_WIKI_POST_LOGOUT_REDIRECT_URIS: 'https://wiki.example.org/',
      APP_TEAM_WIKI_BACKCHANNEL_LOGOUT_URI: 'https://wiki.example.org/bc',
      APP_TEAM_WIKI_OFFLINE_ACCESS: 'true',
      APP_SPA_REDIRECT_URIS: 'https://spa.example.net/cb',
    };
    const good = await checkConfig(apps);
    expect({ code: good.code, stderr: good.stderr }).toEqual({ code: 0, stderr: '' });
    expect(good.stdout).toMatch(
      /ok +app spa +public \(no secret, PKCE\), 1 redirect URI, 0 post-logout redirect URIs, back-channel logout: no, refresh tokens: no/,
    );
    expect(good.stdout).toMatch(
      /ok +app team-wiki +confidential \(client secret\), 2 redirect URIs, 1 post-logout redirect URI, back-channel logout: yes, refresh tokens: yes/,
    );
    expect(row(good.stdout, 'APP_TEAM_WIKI_SECRET')).toEqual(['APP_TEAM_WIKI_SECRET', '****', 'set']);
    expect(row(good.stdout, 'APP_SPA_REDIRECT_URIS')).toEqual(['APP_SPA_REDIRECT_URIS', 'https://spa.example.net/cb', 'set']);

    // A secret too short, another misspelt, and no redirect URI: each on its row, neither value shown.
    const bad = await checkConfig({
      ...apps,
      APP_TEAM_WIKI_SECRET: appSecret.slice(0, 20),
      APP_TEAM_WIKI_SECRT: misspeltSecret,
      APP_BLOG_NAME: 'Blog',
    });
    expect(bad.code).toBe(1);
    expect(row(bad.stdout, 'APP_TEAM_WIKI_SECRET')).toEqual([
      'APP_TEAM_WIKI_SECRET',
      '****',
      'wrong: APP_TEAM_WIKI_SECRET must be at least 32 characters, like COOKIE_SECRET (try: openssl rand -hex 32)',
    ]);
    expect(row(bad.stdout, 'APP_TEAM_WIKI_SECRT')).toEqual([
      'APP_TEAM_WIKI_SECRT',
      '****',
      expect.stringMatching(/^wrong: APP_TEAM_WIKI_SECRT is not a setting of app team-wiki/),
    ]);
    expect(row(bad.stdout, 'APP_BLOG_REDIRECT_URIS')).toEqual([
      'APP_BLOG_REDIRECT_URIS',
      expect.stringMatching(/^missing: APP_BLOG_REDIRECT_URIS is missing/),
    ]);
    // Start-up would register neither: not as written.
    expect(bad.stdout).toMatch(/skip +app blog +not registered: its settings have problems \(see the settings above\)/);
    expect(bad.stdout).toMatch(/skip +app team-wiki +not registered/);
    expect(bad.stdout).toMatch(/ok +app spa +public/);
    for (const secret of [appSecret, appSecret.slice(0, 20), misspeltSecret]) {
      expect(good.stdout + good.stderr + bad.stdout + bad.stderr).not.toContain(secret);
    }

    const none = await checkConfig({});
    expect(none.stdout).toMatch(/skip +apps +none configured \(APP_<ID>_\*\): the OpenID Provider is off/);
  });

  it('fails on a Redis that may evict portero’s keys, and warns when REDIS_ALLOW_EVICTION accepts it', async () => {
    const evicting = await startRedisServer({ args: ['--maxmemory', '2mb', '--maxmemory-policy', 'volatile-lru'] });
    try {
      const refused = await checkConfig({ REDIS_URL: evicting.url });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(
        /FAIL +Redis redis:\/\/127.0.0.1:\d+\/0 +reachable, but portero would refuse to serve: Redis may evict portero's keys \(maxmemory 2097152 bytes, maxmemory-policy volatile-lru\)/,
      );
      const accepted = await checkConfig({ REDIS_URL: evicting.url, REDIS_ALLOW_EVICTION: 'true' });
      expect(accepted.code).toBe(0);
      expect(accepted.stdout).toMatch(
        /warn +Redis redis:\/\/127.0.0.1:\d+\/0 +reachable; Redis may evict portero's keys .*\(accepted by REDIS_ALLOW_EVICTION=true\)/,
      );
      expect(accepted.stdout).toContain('Result: good: portero can start and serve with this configuration (1 warning).');
    } finally {
      await evicting.stop();
    }
  });

  it('--help prints its usage and checks nothing; an unknown flag exits 2', async () => {
    // A missing ENV_FILE would be refused: --help does not read it.
    const withFlag = await runToExit(process.execPath, [SCRIPT, '--help'], { env: cleanEnv({ ENV_FILE: join(dir, 'nowhere.env') }) });
    expect(withFlag.code).toBe(0);
    expect(withFlag.stdout).toMatch(/^usage: npm run check-config/);
    const wrong = await runToExit(process.execPath, [SCRIPT, '--fix']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^check-config: Unknown option '--fix'/);
  });
});
