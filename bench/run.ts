/**
 * `npm run bench [-- options]`: portero against the servers a user would pick instead, in one run,
 * on the same settings, on loopback. See docs/BENCHMARKS.md.
 *
 *   --smoke              one second each, no warm-up, no wait for a quiet machine (npm test runs this)
 *   --out FILE           where the JSON goes (bench/results/latest.json)
 *   --seconds N          seconds per measurement (10)
 *   --connections N      autocannon connections (50)
 *   --quiet-wait N       seconds to wait, at most, for a quiet machine before each measurement (60)
 *   --other-threshold N  cores' worth of other processes' CPU that makes a measurement be redone (0.25)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loginOnce, loginThenCallback, logout, PROVIDER, startLogins } from './flows.js';
import { benchPids, measure, type Row, type Settings, type Target } from './measure.js';
import { startPortero } from './portero.js';
import { rssBytes } from './proc.js';
import { REPO_ROOT, type Started, startRedis, startServer } from './processes.js';
import { bytesPerRecord } from './redis-memory.js';
import { formatSizing, sizing } from './sizing.js';
import { checkTargets, formatReport, type Memory, ratios, ROW_NAMES, type RowKey } from './report.js';

function settingsFrom(argv: string[]): Settings & { out: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      smoke: { type: 'boolean', default: false },
      out: { type: 'string', default: join(REPO_ROOT, 'bench/results/latest.json') },
      seconds: { type: 'string' },
      connections: { type: 'string', default: '50' },
      'quiet-wait': { type: 'string', default: '60' },
      'other-threshold': { type: 'string', default: '0.25' },
    },
  });
  const number = (name: string, text: string | undefined) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new TypeError(`--${name} must be a number, not ${JSON.stringify(text)}`);
    return value;
  };
  const smoke = values.smoke ?? false;
  return {
    smoke,
    out: resolve(values.out ?? ''),
    seconds: number('seconds', values.seconds ?? (smoke ? '1' : '10')),
    warmupSeconds: smoke ? 0 : 2,
    connections: number('connections', values.connections),
    quietWaitMs: number('quiet-wait', values['quiet-wait']) * 1000,
    otherThreshold: number('other-threshold', values['other-threshold']),
    attempts: 3,
  };
}

function versions(): Record<string, string> {
  const of = (name: string) =>
    (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  const names = [
    'hono',
    '@hono/node-server',
    'jose',
    'openid-client',
    'ioredis',
    'express',
    'express-openid-connect',
    '@auth/express',
    '@auth/core',
    'autocannon',
  ];
  const redis = execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? 'unknown';
  return { node: process.version, 'redis-server': redis, ...Object.fromEntries(names.map((name) => [name, of(name)])) };
}

/** The Redis bytes per pending flow and per revoked session, measured on a Redis that holds nothing else of load yet. */
async function redisMemory(
  portero: Started,
  redisUrl: string,
  count: number,
): Promise<Pick<Memory, 'bytesPerPendingFlow' | 'bytesPerSession' | 'bytesPerRevokedSession'>> {
  const tokens: string[] = [];
  // A signed-in session: its record, the provider's grant (its ID token), its place in its user's set.
  const bytesPerSession = await bytesPerRecord(redisUrl, count, async () => {
    for (let i = 0; i < count; i++) tokens.push(await loginOnce(portero.origin));
  });
  // A sign-out forgets the session and leaves its revocation: what remains once both are done.
  const signOutChange = await bytesPerRecord(redisUrl, count, async () => {
    for (const token of tokens) await logout(portero.origin, token);
  });
  const bytesPerRevokedSession = bytesPerSession + signOutChange;
  const bytesPerPendingFlow = await bytesPerRecord(redisUrl, count, () => startLogins(portero.origin, count));
  return { bytesPerPendingFlow, bytesPerSession, bytesPerRevokedSession };
}

/** The Auth.js sign-in request: its CSRF token, fetched once, in the form body and its cookie. */
async function authJsSignIn(origin: string): Promise<Pick<Target, 'method' | 'headers' | 'body'>> {
  const response = await fetch(`${origin}/auth/csrf`);
  const { csrfToken } = (await response.json()) as { csrfToken: string };
  const cookie = response.headers
    .getSetCookie()
    .map((line) => line.split(';', 1)[0])
    .join('; ');
  return {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrfToken, callbackUrl: `${origin}/` }).toString(),
  };
}

async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'portero-bench-'));
  const started: Started[] = [];
  const keep = <T extends Started>(server: T) => {
    started.push(server);
    benchPids.add(server.pid);
    return server;
  };
  try {
    const redis = keep(await startRedis());
    const redisUrl = `redis://127.0.0.1:${redis.port}`;
    const op = keep(await startServer('op'));
    const portero = keep(await startPortero({ dir, redisUrl, issuer: op.origin }));
    // Idle: started, ready, and one login done (its code loaded and compiled), nothing more.
    const token = await loginOnce(portero.origin);
    const rssIdleBytes = rssBytes(portero.pid) ?? Number.NaN;
    const memory = await redisMemory(portero, redisUrl, settings.smoke ? 20 : 200);
    const hono = keep(await startServer('hono'));
    const jose = keep(await startServer('jose', [portero.origin, `${portero.origin}/.well-known/jwks.json`]));
    const eoc = keep(await startServer('eoc', [op.origin]));
    const authjs = keep(await startServer('authjs', [op.origin]));

    const helpers = { redis: redis.pid, op: op.pid };
    const cookie = { cookie: `auth_token=${token}` };
    const targets: [RowKey, Target][] = [
      ['hono', { name: ROW_NAMES.hono, url: `${hono.origin}/`, pid: hono.pid, status: 200 }],
      ['auth', { name: ROW_NAMES.auth, url: `${portero.origin}/auth`, pid: portero.pid, helpers, headers: cookie, status: 200 }],
      ['jose', { name: ROW_NAMES.jose, url: `${jose.origin}/`, pid: jose.pid, headers: cookie, status: 200 }],
      ['jwks', { name: ROW_NAMES.jwks, url: `${portero.origin}/.well-known/jwks.json`, pid: portero.pid, helpers, status: 200 }],
      ['login', { name: ROW_NAMES.login, url: `${portero.origin}/login/${PROVIDER}`, pid: portero.pid, helpers, status: 302 }],
      ['eoc', { name: ROW_NAMES.eoc, url: `${eoc.origin}/login`, pid: eoc.pid, helpers, status: 302 }],
      [
        'authjs',
        {
          name: ROW_NAMES.authjs,
          url: `${authjs.origin}/auth/signin/${PROVIDER}`,
          pid: authjs.pid,
          helpers,
          status: 302,
          ...(await authJsSignIn(authjs.origin)),
        },
      ],
      [
        'flow',
        { name: ROW_NAMES.flow, url: portero.origin, pid: portero.pid, helpers, requests: loginThenCallback(), status: 302, perUnit: 2 },
      ],
    ];
    const rows: Partial<Record<RowKey, Row>> = {};
    for (const [key, target] of targets) {
      rows[key] = await measure(target, settings);
      console.error(`measured ${target.name}: ${rows[key].rps.toFixed(0)}/s`);
    }
    const fullMemory: Memory = { ...memory, rssIdleBytes, rssAfterLoadBytes: rssBytes(portero.pid) ?? Number.NaN };
    const targetChecks = checkTargets(rows, fullMemory);
    const plan = sizing(rows, fullMemory);
    console.log(`${formatReport(rows, fullMemory, targetChecks)}\n\n${formatSizing(plan)}`);
    const machine = { nproc: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', versions: versions() };
    const { out, ...measured } = settings;
    mkdirSync(dirname(out), { recursive: true });
    const json = {
      date: new Date().toISOString(),
      machine,
      settings: measured,
      rows,
      ratios: ratios(rows),
      memory: fullMemory,
      targets: targetChecks,
      sizing: plan,
    };
    writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
    console.error(`wrote ${out}`);
  } finally {
    for (const server of started.reverse()) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
