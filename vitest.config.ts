import { defineConfig } from 'vitest/config';

// Tests import workspace packages through the "source" export condition, so
// they run against src/ without a build. Tests that spawn the `seedbox` CLI
// use dist/, which `npm test` builds first.
// RC4, which message stream encryption needs, is in OpenSSL 3's legacy
// provider: Node loads it only with this flag. Set before the pool forks,
// so the test workers and every process a test spawns have it, as the
// `seedbox` launcher and the images do.
if (!(process.env.NODE_OPTIONS ?? '').includes('--openssl-legacy-provider')) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim();
}

// Tests reach nothing beyond this machine (ENVIRONMENT.md): the DHT nodes
// that seedbox runs by default start with no public routers. A test that
// builds a DHT swarm names its own bootstrap nodes.
process.env.SEEDBOX_DHT_BOOTSTRAP ??= 'none';

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
