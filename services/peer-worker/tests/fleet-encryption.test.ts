import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyConfigPatch, LocalFleetStore, type EncryptionMode } from '@seedbox/cluster';
import { createLogger } from '@seedbox/runtime';
import { Engine } from '../src/engine.js';
import { FleetRunner } from '../src/fleet/fleet-runner.js';
import { MemorySink } from './support/memory-data.js';
import { metaFor } from './support/scripted-peer.js';

/**
 * The fleet's encryption policy reaching a worker's engine: FleetRunner
 * watches the config (a state folder here, as `seedbox serve` has it; the
 * JetStream bucket in the fleet is read the same way) and sets the
 * engine's policy, going back to the process's own SEEDBOX_ENCRYPTION when
 * the config has none.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Worker {
  store: LocalFleetStore;
  engine: Engine;
  runner: FleetRunner;
  warnings: Record<string, unknown>[];
}

async function worker(own: EncryptionMode, before?: EncryptionMode): Promise<Worker> {
  const dir = await mkdtemp(join(tmpdir(), 'seedbox-fleet-encryption-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const store = await LocalFleetStore.open(dir);
  if (before) await store.updateConfig((c) => applyConfigPatch(c, { encryption: before }));
  const engine = new Engine({ sink: new MemorySink(metaFor(Buffer.alloc(16384), 16384)), listen: false, encryption: own });
  await engine.start();
  const warnings: Record<string, unknown>[] = [];
  const log = createLogger({
    service: 'test',
    level: 'warn',
    stream: {
      write: (line: string) => {
        warnings.push(JSON.parse(line) as Record<string, unknown>);
        return true;
      },
    },
  });
  const runner = new FleetRunner({
    state: store,
    engine,
    data: () => {
      throw new Error('no torrents in this test');
    },
    moveData: async () => {},
    removeTorrent: async () => {},
    workerId: 'w1',
    announce: { port: 6881 },
    log,
  });
  await runner.start();
  cleanups.push(async () => {
    await runner.stop();
    await store.flush();
  });
  return { store, engine, runner, warnings };
}

describe('the fleet encryption policy', () => {
  it("is applied to the engine as it changes, and gives way to the process's own when unset", async () => {
    const w = await worker('disable');
    expect(w.engine.encryption).toBe('disable');
    await w.store.updateConfig((c) => applyConfigPatch(c, { encryption: 'require' }));
    expect(w.engine.encryption).toBe('require');
    // Another setting changing leaves it.
    await w.store.updateConfig((c) => applyConfigPatch(c, { altSpeedEnabled: true }));
    expect(w.engine.encryption).toBe('require');
    await w.store.updateConfig((c) => applyConfigPatch(c, { encryption: 'prefer' }));
    expect(w.engine.encryption).toBe('prefer');
    // Unset (an operator removed it from the record): back to SEEDBOX_ENCRYPTION.
    await w.store.updateConfig(({ encryption: _gone, ...rest }) => rest);
    expect(w.engine.encryption).toBe('disable');
    expect(w.warnings).toEqual([]);
  });

  it('a policy stored before the worker starts is in force from its start', async () => {
    const w = await worker('prefer', 'require');
    expect(w.engine.encryption).toBe('require');
  });

  it('a policy this process cannot keep is a warning, and the one in force stays', async () => {
    const w = await worker('prefer');
    await w.store.updateConfig((c) => applyConfigPatch(c, { encryption: 'require' }));
    // Written past the rules (a newer version, `nats kv put`): the engine refuses it, the runner goes on.
    await w.store.updateConfig((c) => ({ ...c, encryption: 'sometimes' as EncryptionMode }));
    expect(w.engine.encryption).toBe('require');
    expect(w.warnings).toMatchObject([{ level: 'warn', asked: 'sometimes', kept: 'require', error: { name: 'EncryptionPolicyError' } }]);
    // The next valid one is applied.
    await w.store.updateConfig((c) => applyConfigPatch(c, { encryption: 'disable' }));
    expect(w.engine.encryption).toBe('disable');
  });
});
