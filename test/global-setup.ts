import { runToExit } from './support/process.js';

/**
 * Vitest's globalSetup: runs once, before any test file. `npm run build` emits dist/verify, which
 * test/verify/package-export.test.ts checks and examples/node/verify.mjs imports as `portero/verify`
 * (there and in test/e2e/rotation.test.ts). Once here, so no two test files build into dist/ at once.
 */
export default async function buildOnce(): Promise<void> {
  const build = await runToExit('npm', ['run', 'build']);
  if (build.code !== 0) throw new Error(`npm run build failed (exit code ${build.code}):\n${build.stdout}${build.stderr}`);
}
