import { runToExit } from './support/process.js';

/**
 * Vitest's globalSetup of the `process` project, before its first test file: `npm run build`, once,
 * so that no two test files build into dist/ at once. The gateways those files start run
 * dist/main.js (as `npm start` does), `npm run keys` is dist/cli/keys.js, and
 * examples/node/verify.mjs imports dist/verify as `portero/verify`.
 */
export default async function setup(): Promise<void> {
  const build = await runToExit('npm', ['run', 'build']);
  if (build.code !== 0) throw new Error(`npm run build failed (exit code ${build.code}):\n${build.stdout}${build.stderr}`);
}
