import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // `npm run build` (dist/verify), once before any test file; after the last, kills and removes
    // what a test worker that died left behind (test/support/leftovers.ts).
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file gets its own process: msw, servers and env stay per file.
    pool: 'forks',
  },
});
