import { existsSync } from 'node:fs';
import { cp, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { track } from '../support/leftovers.js';
import { cleanEnv, REPO_ROOT, spawnGroup, stopGroup } from '../support/process.js';
import { freePort } from '../support/redis-server.js';
import { pollUntil } from '../support/wait.js';

// `npm ci && npm start` on a fresh clone: no dist/ yet. npm start must build it (prestart) and run
// the compiled gateway with node, no TypeScript loader. A copy of the checkout of this test's own,
// with the repository's node_modules, so that the build does not touch the dist/ other tests run.

let checkout: string;
let untrack: () => void;

beforeAll(async () => {
  checkout = await mkdtemp(join(tmpdir(), 'portero-fresh-clone-'));
  untrack = track({ kind: 'dir', path: checkout, name: 'fresh clone for npm start' });
  for (const entry of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src']) {
    await cp(join(REPO_ROOT, entry), join(checkout, entry), { recursive: true });
  }
  await symlink(join(REPO_ROOT, 'node_modules'), join(checkout, 'node_modules'), 'dir');
});
afterAll(async () => {
  await rm(checkout, { recursive: true, force: true });
  untrack();
});

/** The command lines of the processes in the group led by `pid`, from /proc. */
async function groupCommands(pid: number): Promise<string[][]> {
  const commands: string[][] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
    if (pgrp !== pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline) commands.push(cmdline.split('\0').filter(Boolean));
  }
  return commands;
}

describe('npm start on a fresh clone', () => {
  it('builds dist/ first, then runs the compiled gateway with plain node', async () => {
    expect(existsSync(join(checkout, 'dist'))).toBe(false);
    const port = await freePort();
    const child = spawnGroup(
      'npm',
      ['start'],
      { cwd: checkout, env: cleanEnv({ PORT: String(port) }), stdio: ['ignore', 'pipe', 'pipe'] },
      'npm start',
    );
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    try {
      await pollUntil(() => output.includes('"msg":"portero listening"'), {
        what: 'npm start to log "portero listening"',
        timeoutMs: 30_000,
        giveUp: () => (child.exitCode !== null ? `npm start exited (code ${child.exitCode}):\n${output}` : undefined),
      });
      expect((await fetch(`http://localhost:${port}/healthz`)).status).toBe(200);
      expect(existsSync(join(checkout, 'dist/main.js'))).toBe(true);

      const commands = await groupCommands(child.pid!);
      const gateway = commands.find((argv) => argv.includes('dist/main.js'));
      expect(gateway, JSON.stringify(commands)).toBeDefined();
      expect(gateway![0]).toMatch(/(^|\/)node$/);
      // With the memory settings docs/OPERATIONS.md chose ("Memory of the process").
      expect(gateway!.slice(1)).toEqual(['--max-semi-space-size=4', '--max-old-space-size=512', 'dist/main.js']);
      // No TypeScript anywhere in the running group: no loader, no .ts entry point.
      for (const argv of commands) expect(argv.join(' ')).not.toMatch(/tsx|\.ts\b|--import|--loader/);
    } finally {
      await stopGroup(child, () => output, { name: 'npm start' });
    }
  });
});
