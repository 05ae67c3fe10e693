import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/parse.js';
import { refusedProblems } from '../support/config.js';
import { describeTarget } from '../../src/store/redis-client.js';
import { selfSignedCertificate } from '../support/tls.js';

const problemsOf = refusedProblems;

const redisOf = (env: Record<string, string>) => parseConfig(env).redis;

describe('REDIS_URL: one server', () => {
  it('reads host, port and database, TLS from rediss://', () => {
    expect(redisOf({ REDIS_URL: 'redis://cache.internal' })).toMatchObject({
      topology: { kind: 'standalone', host: 'cache.internal', port: 6379, db: 0 },
      tls: { enabled: false },
    });
    expect(redisOf({ REDIS_URL: 'rediss://cache.internal:6380/2' })).toMatchObject({
      topology: { kind: 'standalone', host: 'cache.internal', port: 6380, db: 2 },
      tls: { enabled: true },
    });
    expect(redisOf({ REDIS_URL: 'redis://[::1]:7000' }).topology).toEqual({ kind: 'standalone', host: '::1', port: 7000, db: 0 });
  });

  it('takes an ACL user and password from the URL (percent-decoded), over REDIS_USERNAME and REDIS_PASSWORD', () => {
    const env = { REDIS_USERNAME: 'env-user', REDIS_PASSWORD: 'env-pass' };
    expect(redisOf({ ...env, REDIS_URL: 'redis://portero:p%40ss%3Aw@cache:6379' })).toMatchObject({
      username: 'portero',
      password: 'p@ss:w',
    });
    // A password alone in the URL is still the URL's own credentials: the default user, not env-user.
    const passwordOnly = redisOf({ ...env, REDIS_URL: 'redis://:url-pass@cache:6379' });
    expect(passwordOnly.password).toBe('url-pass');
    expect(passwordOnly.username).toBeUndefined();
    expect(redisOf({ ...env, REDIS_URL: 'redis://cache:6379' })).toMatchObject({ username: 'env-user', password: 'env-pass' });
  });

  it('refuses what is not a redis URL', () => {
    expect(problemsOf({ REDIS_URL: 'http://redis:6379' })).toEqual(['REDIS_URL must start with redis:// or rediss://']);
    expect(problemsOf({ REDIS_URL: 'redis://cache:6379/sessions' })).toEqual(['REDIS_URL may end only in a database number (/0 to /99)']);
    expect(problemsOf({ REDIS_URL: 'cache:6379' })).toEqual(['REDIS_URL must start with redis:// or rediss://']);
    expect(problemsOf({ REDIS_URL: 'redis://' })).toEqual(['REDIS_URL must name a host']);
  });
});

describe('REDIS_SENTINELS: a master the sentinels name', () => {
  it('reads the sentinels, the master group and the sentinels’ own password', () => {
    const redis = redisOf({
      REDIS_SENTINELS: 's1.internal:26379, s2.internal:26379,[fd00::3]:26380',
      REDIS_SENTINEL_NAME: 'mymaster',
      REDIS_SENTINEL_PASSWORD: 'sentinel-secret',
      REDIS_USERNAME: 'portero',
      REDIS_PASSWORD: 'data-secret',
    });
    expect(redis).toMatchObject({
      topology: {
        kind: 'sentinel',
        name: 'mymaster',
        sentinelPassword: 'sentinel-secret',
        sentinels: [
          { host: 's1.internal', port: 26379 },
          { host: 's2.internal', port: 26379 },
          { host: 'fd00::3', port: 26380 },
        ],
      },
      // The data nodes' credentials, not the sentinels'.
      username: 'portero',
      password: 'data-secret',
      tls: { enabled: false },
    });
    expect(redisOf({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_TLS: 'true' }).tls.enabled).toBe(true);
  });

  it('needs the master group, and refuses sentinel settings without sentinels', () => {
    expect(problemsOf({ REDIS_SENTINELS: 's1:26379' })).toEqual([
      'REDIS_SENTINELS needs REDIS_SENTINEL_NAME, the master group the sentinels monitor (as in sentinel.conf)',
    ]);
    expect(problemsOf({ REDIS_SENTINEL_NAME: 'mymaster' })).toEqual(['REDIS_SENTINEL_NAME is set without REDIS_SENTINELS']);
    expect(problemsOf({ REDIS_SENTINEL_PASSWORD: 'x' })).toEqual(['REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS']);
  });

  it('names each entry that is not host:port, by position', () => {
    expect(problemsOf({ REDIS_SENTINELS: 's1:26379,s2,s3:0,redis://s4:26379', REDIS_SENTINEL_NAME: 'm' })).toEqual([
      'REDIS_SENTINELS entry 2 must be host:port (a port from 1 to 65535), got "s2"',
      'REDIS_SENTINELS entry 3 must be host:port (a port from 1 to 65535), got "s3:0"',
      'REDIS_SENTINELS entry 4 must be host:port (a port from 1 to 65535), got "redis://s4:26379"',
    ]);
    expect(problemsOf({ REDIS_SENTINELS: ' , ', REDIS_SENTINEL_NAME: 'm' })).toEqual(['REDIS_SENTINELS must list at least one host:port']);
  });

  it('reports a REDIS_URL password that is no valid percent-encoding as a problem, never quoting it (it threw URI malformed)', () => {
    const problems = problemsOf({ REDIS_URL: 'redis://:pa%zzss@h:6379' });
    expect(problems).toEqual([
      'REDIS_URL: its user name or password is not valid percent-encoding (a % must start %XX: write %25 for a % of its own)',
    ]);
  });

  it('never quotes an entry that holds credentials (user:password@): the problem goes to stderr and check-config', () => {
    const problems = problemsOf({ REDIS_SENTINELS: 'redis://:pw1@s1:26379,default:pw2@s2:26379', REDIS_SENTINEL_NAME: 'm' });
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).not.toMatch(/pw1|pw2|default/);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'admin:pw3@n1:7000' })).toEqual([
      'REDIS_CLUSTER_NODES entry 1 must be host:port (a port from 1 to 65535), got one with credentials (user:password@, not shown): set REDIS_USERNAME and REDIS_PASSWORD',
    ]);
  });
});

describe('REDIS_CLUSTER_NODES: a Redis Cluster', () => {
  it('reads the nodes, with the data nodes’ credentials and TLS', () => {
    expect(redisOf({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', REDIS_PASSWORD: 'pw', REDIS_TLS: 'true' })).toMatchObject({
      topology: {
        kind: 'cluster',
        nodes: [
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 7001 },
        ],
      },
      password: 'pw',
      tls: { enabled: true },
    });
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'n1:7000,n2' })).toEqual([
      'REDIS_CLUSTER_NODES entry 2 must be host:port (a port from 1 to 65535), got "n2"',
    ]);
  });
});

describe('exactly one topology', () => {
  it('names the clash', () => {
    const clash = 'they name different Redis deployments';
    expect(problemsOf({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'n1:7000' })).toEqual([
      `set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES, not REDIS_URL and REDIS_CLUSTER_NODES: ${clash}`,
    ]);
    expect(problemsOf({ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'n1:7000' })).toEqual([
      `set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES, not REDIS_SENTINELS and REDIS_CLUSTER_NODES: ${clash}`,
    ]);
    expect(
      problemsOf({ REDIS_URL: 'redis://a', REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'n:1' }),
    ).toEqual([
      `set only one of REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES, not REDIS_URL and REDIS_SENTINELS and REDIS_CLUSTER_NODES: ${clash}`,
    ]);
  });

  it('refuses credentials with no Redis to use them on', () => {
    expect(problemsOf({ REDIS_PASSWORD: 'pw' })).toEqual(['REDIS_PASSWORD is set without a Redis to use it on']);
    expect(problemsOf({ REDIS_USERNAME: 'u' })).toEqual(['REDIS_USERNAME is set without a Redis to use it on']);
  });

  it('is required in production, any of the three', () => {
    const production = { NODE_ENV: 'production' };
    const required = (env: Record<string, string>) =>
      problemsOf({ ...production, ...env }).some((line) =>
        line.startsWith('one of REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES is required'),
      );
    expect(required({})).toBe(true);
    expect(required({ REDIS_URL: 'redis://a:6379' })).toBe(false);
    expect(required({ REDIS_SENTINELS: 's:26379', REDIS_SENTINEL_NAME: 'm' })).toBe(false);
    expect(required({ REDIS_CLUSTER_NODES: 'n:7000' })).toBe(false);
    // Two at once: the clash is the problem, not a missing Redis.
    expect(required({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'n:7000' })).toBe(false);
  });
});

describe('REDIS_TLS_CA, REDIS_TLS_CERT, REDIS_TLS_KEY', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portero-redis-tls-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const one = selfSignedCertificate();
  const other = selfSignedCertificate();
  const ca = file('ca.pem', one.cert);
  const cert = file('cert.pem', one.cert);
  const key = file('key.pem', one.key);
  const otherKey = file('other-key.pem', other.key);
  const garbage = file('garbage.pem', 'not a certificate');

  it('reads the files at start, for the data nodes', () => {
    expect(redisOf({ REDIS_URL: 'rediss://cache:6380', REDIS_TLS_CA: ca, REDIS_TLS_CERT: cert, REDIS_TLS_KEY: key }).tls).toEqual({
      enabled: true,
      ca: one.cert,
      cert: one.cert,
      key: one.key,
    });
    expect(redisOf({ REDIS_CLUSTER_NODES: 'n:7000', REDIS_TLS: 'true', REDIS_TLS_CA: ca }).tls).toEqual({ enabled: true, ca: one.cert });
  });

  it('refuses a file it cannot read, one that is not PEM, and a key that is not the certificate’s', () => {
    const tls = { REDIS_URL: 'rediss://cache:6380' };
    expect(problemsOf({ ...tls, REDIS_TLS_CA: join(dir, 'missing.pem') })).toEqual([
      `REDIS_TLS_CA names ${join(dir, 'missing.pem')}, which cannot be read (ENOENT)`,
    ]);
    expect(problemsOf({ ...tls, REDIS_TLS_CA: garbage, REDIS_TLS_CERT: garbage, REDIS_TLS_KEY: garbage })).toEqual([
      'REDIS_TLS_CA must hold one or more CA certificates (PEM)',
      'REDIS_TLS_CERT must hold a certificate (PEM)',
      'REDIS_TLS_KEY must hold a private key (PEM)',
    ]);
    expect(problemsOf({ ...tls, REDIS_TLS_CERT: cert, REDIS_TLS_KEY: otherKey })).toEqual([
      'REDIS_TLS_KEY is not the private key of REDIS_TLS_CERT',
    ]);
    expect(problemsOf({ ...tls, REDIS_TLS_CERT: cert })).toEqual(['REDIS_TLS_CERT needs REDIS_TLS_KEY, its private key']);
    expect(problemsOf({ ...tls, REDIS_TLS_KEY: key })).toEqual(['REDIS_TLS_KEY needs REDIS_TLS_CERT, its certificate']);
  });

  it('refuses certificate files while TLS is off, and REDIS_TLS beside a URL', () => {
    expect(problemsOf({ REDIS_URL: 'redis://cache:6379', REDIS_TLS_CA: ca })).toEqual([
      'REDIS_TLS_CA is set, but TLS is off: they need a rediss:// REDIS_URL',
    ]);
    expect(problemsOf({ REDIS_CLUSTER_NODES: 'n:7000', REDIS_TLS_CERT: cert, REDIS_TLS_KEY: key })).toEqual([
      'REDIS_TLS_CERT, REDIS_TLS_KEY are set, but TLS is off: they need REDIS_TLS=true',
    ]);
    expect(problemsOf({ REDIS_URL: 'redis://cache:6379', REDIS_TLS: 'true' })).toEqual([
      'REDIS_TLS is for REDIS_SENTINELS and REDIS_CLUSTER_NODES; with REDIS_URL, rediss:// turns TLS on',
    ]);
  });
});

describe('what start-up logs of the target', () => {
  it('names topology, addresses and user, never a password', () => {
    const described = (env: Record<string, string>) => {
      const { redis } = parseConfig(env);
      if (!redis.topology) throw new Error('no topology');
      return describeTarget({ ...redis, topology: redis.topology });
    };
    expect(described({ REDIS_URL: 'rediss://portero:hunter2@cache:6380/1' })).toBe('rediss://portero@cache:6380/1');
    expect(
      described({
        REDIS_SENTINELS: 's1:26379,s2:26379',
        REDIS_SENTINEL_NAME: 'm',
        REDIS_SENTINEL_PASSWORD: 'hunter2',
        REDIS_PASSWORD: 'hunter2',
      }),
    ).toBe('sentinel master m via s1:26379,s2:26379');
    expect(described({ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_USERNAME: 'portero', REDIS_PASSWORD: 'hunter2' })).toBe(
      'cluster via n1:7000 as portero',
    );
  });
});
