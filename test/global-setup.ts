import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { describeLeftover, removeLeftovers } from './support/leftovers.js';

/**
 * Vitest's globalSetup: runs once, before any test file, and its returned teardown once after all.
 *
 * The run's file of started programs (test/support/leftovers.ts) is named here and given to every
 * test worker; the teardown kills what a worker that died left running, and removes the file.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runFile = join(tmpdir(), `portero-test-run-${process.pid}-${randomBytes(4).toString('hex')}.jsonl`);
  project.provide('porteroRunFile', runFile);

  return async () => {
    const left = await removeLeftovers(runFile);
    if (left.length > 0) {
      console.warn(
        `test run: killed or removed what a test worker left behind (it died before its afterAll):\n${left.map((item) => `  ${describeLeftover(item)}`).join('\n')}`,
      );
    }
  };
}
