import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFleetStore } from '@seedbox/cluster';
import { silentLogger } from '@seedbox/runtime';
import { TotalsKeeper } from '../src/fleet/totals-keeper.js';
import type { TorrentSnapshot } from '../src/torrent.js';

const HEX = 'ab'.repeat(20);
let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function snap(p: Partial<TorrentSnapshot>): TorrentSnapshot {
  return { infoHash: HEX, state: 'downloading', uploaded: 0, downloaded: 0, complete: false, ...p } as TorrentSnapshot;
}

async function keeper(): Promise<TotalsKeeper> {
  dir = mkdtempSync(join(tmpdir(), 'totals-'));
  const k = new TotalsKeeper(await LocalFleetStore.open(dir), silentLogger);
  await k.start();
  return k;
}

describe('TotalsKeeper', () => {
  it('counts a run from its first tick: a download done within one tick is counted whole', async () => {
    const k = await keeper();
    k.record(snap({ downloaded: 5 << 20, state: 'seeding', complete: true }), 1_000, true);
    expect(k.get(HEX)).toMatchObject({ downloaded: 5 << 20, uploaded: 0, seedingMs: 0, completedAt: 1_000, lastActivityAt: 1_000 });
    k.record(snap({ downloaded: 5 << 20, uploaded: 1 << 20, state: 'seeding', complete: true }), 2_000, true);
    expect(k.get(HEX)).toMatchObject({ downloaded: 5 << 20, uploaded: 1 << 20, seedingMs: 1_000, completedAt: 1_000 });
    await k.flush();
    expect(k.get(HEX)).toMatchObject({ downloaded: 5 << 20, uploaded: 1 << 20 });
    k.stop();
  });

  it('a new run (counters from zero again) adds to what the last ones moved; time only for the worker that keeps the clock', async () => {
    const k = await keeper();
    k.record(snap({ downloaded: 300 }), 1_000, false);
    k.record(snap({ downloaded: 500 }), 2_000, false);
    k.endRun(HEX);
    k.record(snap({ downloaded: 40 }), 3_000, false);
    // Made again without endRun: a smaller counter is a new run too.
    k.record(snap({ downloaded: 10 }), 4_000, false);
    expect(k.get(HEX)).toMatchObject({ downloaded: 550, activeMs: 0 });
    k.stop();
  });
});
