import { defineConfig } from 'vitest/config';

/**
 * The test files that start programs of their own beside redis-server: gateways (`node dist/main.js`,
 * `npm start`), nginx, Chromium, Python, `npm run keys`, `npm pack`, `npm run bench`, tsc and docker-compose for the docs' snippets; and the Redis
 * failovers, which start whole Sentinel and Cluster deployments and wait for them to fail over. They need dist/ built, and take
 * most of the run's time; `npm run test:unit` leaves them out.
 */
const PROCESS_TESTS = [
  'test/dev/**/*.test.ts',
  'test/e2e/**/*.test.ts',
  'test/failover/**/*.test.ts',
  'test/cli/**/*.test.ts',
  'test/bench/**/*.test.ts',
  'test/support/start-helpers.test.ts',
  'test/verify/package-export.test.ts',
  'test/verify/python-*.test.ts',
  'test/docs/compose.test.ts',
  'test/docs/apps.test.ts',
  'test/docs/snippets-node.test.ts',
  'test/docs/snippets-python.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Each file gets its own process: msw, servers and env stay per file.
    pool: 'forks',
    // On purpose, for the 2-core machines this runs on: most test time is spent waiting on other
    // processes (Redis, gateways, nginx, Chromium), so a few more files than cores overlap their
    // waits; many more make the CPU-bound ones (key generation, Chromium) starve each other.
    maxWorkers: 3,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: PROCESS_TESTS,
          // The run's file of started programs, and the teardown that kills what a dead worker left.
          globalSetup: ['test/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'process',
          include: PROCESS_TESTS,
          // The same, then `npm run build` once, before the first of these files.
          globalSetup: ['test/global-setup.ts', 'test/build-setup.ts'],
        },
      },
    ],
  },
});
