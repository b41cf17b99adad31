import { defineConfig } from 'vitest/config';

// Tests import workspace packages through the "source" export condition, so
// they run against src/ without a build. Tests that spawn the `seedbox` CLI
// use dist/, which `npm test` builds first.
export default defineConfig({
  resolve: { conditions: ['source', 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: ['source', 'module', 'node', 'import', 'default'] } },
  test: {
    include: ['packages/*/tests/**/*.test.ts', 'services/*/tests/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Interop tests start real clients and network namespaces; running test
    // files in parallel on a 2-core machine makes them flaky and slow.
    fileParallelism: false,
    pool: 'forks',
  },
});
