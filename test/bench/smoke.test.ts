import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { track } from '../support/leftovers.js';
import { cleanEnv, REPO_ROOT, spawnGroup, stopGroup } from '../support/process.js';
import { pollUntil } from '../support/wait.js';

// `npm run bench -- --smoke`: every row of the table measured (a second each), the JSON written,
// nothing left running. Numbers only: speed is the bench's to show, never a test's to assert.

const ROWS = ['login', 'flow', 'auth', 'jwks', 'hono', 'jose', 'eoc', 'authjs'];

let dir: string;
let untrack: () => void;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portero-bench-smoke-'));
  untrack = track({ kind: 'dir', path: dir, name: 'bench smoke output' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  untrack();
});

/** Whether any process of the group led by `pid` is still there. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run bench -- --smoke', () => {
  it('measures every row, writes the JSON, and leaves no server running', { timeout: 180_000 }, async () => {
    const out = join(dir, 'bench.json');
    const child = spawnGroup(
      'npm',
      ['run', 'bench', '--', '--smoke', '--out', out],
      { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
      'npm run bench',
    );
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      expect(code, output).toBe(0);
      // Redis, the provider, portero and the four baselines are gone with it.
      await pollUntil(() => !groupAlive(child.pid!), { what: 'the bench’s servers to end', timeoutMs: 5000 });
    } finally {
      await stopGroup(child, () => output, { name: 'npm run bench' });
    }

    const report = JSON.parse(await readFile(out, 'utf8'));
    expect(Object.keys(report.rows).sort()).toEqual([...ROWS].sort());
    for (const key of ROWS) {
      const row = report.rows[key];
      // Every request of every row answered as it should (a login that failed would count here).
      expect(row.errors, `${key}: ${JSON.stringify(row)}`).toBe(0);
      for (const field of ['rps', 'p50Ms', 'p99Ms', 'cpuUsPerUnit', 'otherCores']) {
        expect(Number.isFinite(row[field]), `${key}.${field}: ${JSON.stringify(row)}`).toBe(true);
      }
      expect(row.units, key).toBeGreaterThan(0);
    }
    for (const field of ['bytesPerPendingFlow', 'bytesPerSession', 'bytesPerRevokedSession', 'rssIdleBytes', 'rssAfterLoadBytes']) {
      expect(report.memory[field], field).toBeGreaterThan(0);
    }
    expect(report.targets).toHaveLength(7);
    for (const target of report.targets) expect(Number.isFinite(target.value), target.target).toBe(true);
    expect(report.sizing.workload.instances).toBeGreaterThan(0);
    expect(report.sizing.workload.redisShards).toBeGreaterThan(0);
    // The table on stdout names every row.
    expect(output).toContain('portero GET /auth (valid token)');
    expect(output).toContain('express-openid-connect GET /login');
  });
});
