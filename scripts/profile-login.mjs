// Profiles portero's login legs in production mode: `npm run build`, then
//
//   node scripts/profile-login.mjs [--logins 4000] [--concurrency 16] [--phase login|login+callback]
//     [--cpu-prof DIR] [--node-args "..."]
//
// Starts a redis-server, a stub OpenID provider (discovery, JWKS, token endpoint; its own process,
// so its CPU is not the gateway's) and `node dist/main.js` with NODE_ENV=production, then drives
// /login/stub alone, then whole logins (/login/stub and the callback with the stub's code). Prints
// the gateway's CPU (user + system, all threads, from /proc) per request and its RSS idle and after
// load. With --cpu-prof the gateway writes a V8 CPU profile into DIR on exit; `--top` summarises one.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    logins: { type: 'string', default: '4000' },
    concurrency: { type: 'string', default: '16' },
    'cpu-prof': { type: 'string' },
    'node-args': { type: 'string', default: '' },
    // NAME=value for the gateway's environment (MALLOC_ARENA_MAX=2); repeatable.
    env: { type: 'string', multiple: true, default: [] },
    // Where the gateway's stdout goes (its log, and --trace-gc's); nowhere by default.
    'gateway-log': { type: 'string' },
    op: { type: 'string' },
    top: { type: 'string' },
    // The compiled gateway to run: dist by default, another build to compare with.
    dist: { type: 'string', default: 'dist' },
    // login: /login alone; login+callback: whole logins; both by default, one after the other.
    phase: { type: 'string', multiple: true, default: ['login', 'login+callback'] },
  },
});

/** The stub provider: the code it hands out is the nonce and the PKCE challenge, so it keeps no state. */
async function runStubOp(port) {
  const { SignJWT, exportJWK, generateKeyPair } = await import('jose');
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'stub', alg: 'ES256', use: 'sig' };
  const issuer = `http://127.0.0.1:${port}`;
  const discovery = JSON.stringify({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    id_token_signing_alg_values_supported: ['ES256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
  });
  const server = createServer(async (req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.url === '/.well-known/openid-configuration') return send(200, discovery);
    if (req.url === '/jwks') return send(200, JSON.stringify({ keys: [jwk] }));
    if (req.url === '/token' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const form = new URLSearchParams(body);
      const { nonce, challenge, sub } = JSON.parse(Buffer.from(form.get('code') ?? '', 'base64url').toString());
      if (
        createHash('sha256')
          .update(form.get('code_verifier') ?? '')
          .digest('base64url') !== challenge
      ) {
        return send(400, JSON.stringify({ error: 'invalid_grant' }));
      }
      const idToken = await new SignJWT({ nonce, email: `${sub}@example.com`, email_verified: true })
        .setProtectedHeader({ alg: 'ES256', kid: 'stub' })
        .setIssuer(issuer)
        .setAudience('portero')
        .setSubject(sub)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      return send(200, JSON.stringify({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token: idToken }));
    }
    send(404, '{}');
  });
  server.listen(port, '127.0.0.1');
}

function freePort() {
  return new Promise((resolve) => {
    const server = netServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(url, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    if (Date.now() > until) throw new Error(`${url} never answered`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** CPU seconds (user + system, every thread) of a process so far, from /proc. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

/** One request over http/1.1 keep-alive; fetch follows no redirect. */
async function get(url, cookie) {
  const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
  await response.arrayBuffer();
  return response;
}

async function login(gateway, n, withCallback) {
  const started = await get(`${gateway}/login/stub`);
  if (started.status !== 302) throw new Error(`/login answered ${started.status}`);
  if (!withCallback) return;
  const location = new URL(started.headers.get('location'));
  const cookie = started.headers.getSetCookie()[0].split(';')[0];
  const code = Buffer.from(
    JSON.stringify({ nonce: location.searchParams.get('nonce'), challenge: location.searchParams.get('code_challenge'), sub: `u${n}` }),
  ).toString('base64url');
  const query = new URLSearchParams({ code, state: location.searchParams.get('state') });
  const done = await get(`${gateway}/callback/stub?${query}`, cookie);
  if (done.status !== 302) throw new Error(`/callback answered ${done.status}`);
}

/** MEMORY USAGE of one pending flow's key (the /login phase leaves its flows behind). */
async function flowBytes(port) {
  const { Redis } = await import('ioredis');
  const redis = new Redis({ port, host: '127.0.0.1' });
  try {
    const [, [key]] = await redis.scan('0', 'MATCH', 'portero:flow:*', 'COUNT', 1000);
    return key ? Number(await redis.call('MEMORY', 'USAGE', key)) : undefined;
  } finally {
    redis.disconnect();
  }
}

async function loop(total, concurrency, step) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await step(next++);
    }),
  );
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'portero-profile-'));
  const children = [];
  const start = (command, argv, env = {}, stdout = 'ignore') => {
    const child = spawn(command, argv, { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', stdout, 'inherit'] });
    children.push(child);
    return child;
  };
  try {
    const [redisPort, opPort, gatewayPort] = [await freePort(), await freePort(), await freePort()];
    start('redis-server', ['--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', dir]);
    start(process.execPath, [new URL(import.meta.url).pathname, '--op', String(opPort)]);
    const keys = join(dir, 'keys.json');
    const made = spawn(process.execPath, ['dist/cli/keys.js', '--out', keys], { stdio: 'ignore' });
    await new Promise((r) => made.once('exit', r));
    const op = `http://127.0.0.1:${opPort}`;
    await waitFor(`${op}/.well-known/openid-configuration`);
    const gatewayUrl = `http://localhost:${gatewayPort}`;
    const nodeArgs = [
      ...args['node-args'].split(' ').filter(Boolean),
      ...(args['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${args['cpu-prof']}`] : []),
    ];
    const gateway = start(
      process.execPath,
      [...nodeArgs, join(args.dist, 'main.js')],
      {
        NODE_ENV: 'production',
        ENV_FILE: '/dev/null',
        PORT: String(gatewayPort),
        HOST: '127.0.0.1',
        PUBLIC_URL: gatewayUrl,
        REDIS_URL: `redis://127.0.0.1:${redisPort}`,
        COOKIE_SECRET: randomBytes(32).toString('base64'),
        JWT_KEYS: keys,
        PROVIDER_STUB_TYPE: 'oidc',
        PROVIDER_STUB_ISSUER: op,
        PROVIDER_STUB_CLIENT_ID: 'portero',
        PROVIDER_STUB_CLIENT_SECRET: 'secret',
        RATE_LIMIT_LOGIN: 'off',
        RATE_LIMIT_CALLBACK: 'off',
        ...Object.fromEntries(args.env.map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
      },
      args['gateway-log'] ? openSync(args['gateway-log'], 'w') : 'ignore',
    );
    await waitFor(`${gatewayUrl}/readyz`);
    await new Promise((r) => setTimeout(r, 1000));
    const started = rssMb(gateway.pid);
    await loop(200, 4, (n) => login(gatewayUrl, n, true)); // discovery, JWKS, JIT warm-up
    await new Promise((r) => setTimeout(r, 2000));
    const idle = rssMb(gateway.pid);
    const logins = Number(args.logins);
    const concurrency = Number(args.concurrency);
    const results = { startRssMb: started, idleRssMb: idle };
    for (const name of args.phase) {
      const withCallback = name === 'login+callback';
      const [cpu, t] = [cpuSeconds(gateway.pid), performance.now()];
      await loop(logins, concurrency, (n) => login(gatewayUrl, n, withCallback));
      const elapsed = (performance.now() - t) / 1000;
      results[name] = {
        cpuUsPerLogin: Math.round(((cpuSeconds(gateway.pid) - cpu) / logins) * 1e6),
        loginsPerSecond: Math.round(logins / elapsed),
      };
      if (!withCallback) results.flowBytes = await flowBytes(redisPort);
    }
    results.rssAfterLoadMb = rssMb(gateway.pid);
    console.log(JSON.stringify(results, (_, v) => (typeof v === 'number' ? Math.round(v * 10) / 10 : v)));
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));
  } finally {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The functions a profile spent its samples in: self time, and time including callees for the named ones. */
function summarise(path) {
  const file = path.endsWith('.cpuprofile')
    ? path
    : join(
        path,
        readdirSync(path)
          .filter((f) => f.endsWith('.cpuprofile'))
          .sort()
          .at(-1),
      );
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const dt = new Map();
  for (const [i, id] of profile.samples.entries()) dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...dt.values()].reduce((a, b) => a + b, 0);
  const label = (node) => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/dist\//, 'dist/')}:${lineNumber + 1}`;
  };
  const self = new Map();
  const inclusive = new Map();
  for (const [id, time] of dt) {
    const node = byId.get(id);
    self.set(label(node), (self.get(label(node)) ?? 0) + time);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at));
      if (!seen.has(name)) inclusive.set(name, (inclusive.get(name) ?? 0) + time);
      seen.add(name);
    }
  }
  // With --logins N (the logins the profile saw, warm-up included): µs of main-thread time per login.
  const per = process.argv.includes('--logins') ? Number(args.logins) : undefined;
  const pct = (t) => (per ? `${(t / per).toFixed(1).padStart(6)} µs` : `${((100 * t) / total).toFixed(1).padStart(5)} %`);
  console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
  console.log('--- self');
  for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(pct(t), name);
  console.log('--- inclusive');
  for (const [name, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 80)) console.log(pct(t), name);
}

if (args.op) await runStubOp(Number(args.op));
else if (args.top) summarise(args.top);
else await main();
