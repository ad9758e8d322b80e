import { defineConfig } from 'vitest/config';

// The slow fault tests (`npm run test:faults`): real service processes built from `dist/`,
// provider stand-ins and, for the ones that stop Postgres, a private Postgres server. The files
// run one after another: each starts processes and databases of its own, and on a small
// machine running them side by side would only make every timeout tighter.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts', 'test/faults/build-service.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
