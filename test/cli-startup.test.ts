/**
 * What the CLI loads before it runs a command: each command's module is
 * loaded when it runs, and `download` and `seed` take the engine alone
 * (the @seedbox/…/embedded and other subpath exports), not gRPC, NATS or
 * the metrics. Loading every command took 0.3 s before a download's first
 * byte; the benchmarks count that time.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'packages/cli/dist');

/** The CommonJS packages in the require cache after importing `module` (ESM packages do not show there; gRPC, nats and prom-client are CommonJS). */
function loadedBy(module: string): string[] {
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(module)});
    const cache = createRequire(import.meta.url).cache;
    const names = new Set();
    for (const k of Object.keys(cache)) { const m = /node_modules\\/((@[^/]+\\/)?[^/]+)/.exec(k); if (m) names.add(m[1]); }
    console.log(JSON.stringify([...names]));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', cwd: dist });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as string[];
}

describe('CLI start-up', () => {
  it('the embedded commands load neither gRPC nor the metrics', () => {
    for (const command of ['download.js', 'seed.js']) {
      const loaded = loadedBy(join(dist, 'commands', command));
      expect(loaded).not.toContain('@grpc/grpc-js');
      expect(loaded).not.toContain('prom-client');
      expect(loaded).not.toContain('nats');
    }
  });

  it('main loads a command only when it runs', () => {
    expect(loadedBy(join(dist, 'main.js'))).toEqual([]);
    // The control commands do need gRPC: the check above can see it.
    expect(loadedBy(join(dist, 'commands', 'control.js'))).toContain('@grpc/grpc-js');
  });
});
