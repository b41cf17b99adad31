/**
 * seedbox serve's state folder on a full disk (a size-limited tmpfs the
 * test mounts; root only): a write that fails leaves the old entry whole
 * and no partial file behind, and the same write succeeds once space is back.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultTorrentSettings, LocalFleetStore } from '../src/index.js';
import { mountTmpfs } from '../../../test/support/mounts.js';
import { cleanupAfter, cleanupAll, cleanupMark, makeTempDir } from '../../../test/support/processes.js';
import { needTool, tools } from '../../../test/support/tools.js';

const mounts = needTool(tools.mounts);
const HEX = 'ef'.repeat(20);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

describe.skipIf(!mounts.available)('LocalFleetStore on a full disk', () => {
  it('keeps the old bitfield whole when a write fails for lack of space, leaves no partial file, and writes once space is back', async () => {
    const vol = mountTmpfs(join(makeTempDir('state-full'), 'state'), '256k');
    const store = await LocalFleetStore.open(vol.dir);
    await store.addTorrent({ infoHashHex: HEX, torrentFile: new Uint8Array(100).fill(7), desired: 'running', addedAt: 1, rechecks: 0, settings: defaultTorrentSettings(1) });
    await store.mergeBitfield(HEX, 100_000, [0]);
    expect(() => writeFileSync(join(vol.dir, 'filler'), Buffer.alloc(256 * 1024))).toThrow(/ENOSPC/);
    // Every piece set: about 12 KiB that do not fit.
    await expect(store.mergeBitfield(HEX, 100_000, Array.from({ length: 100_000 }, (_, i) => i))).rejects.toThrow(/ENOSPC/);
    const files = () => readdirSync(vol.dir, { recursive: true }).map(String);
    expect(files().filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const reopened = await LocalFleetStore.open(vol.dir);
    expect((await reopened.getBitfield(HEX, 100_000)).count).toBe(1);

    rmSync(join(vol.dir, 'filler'));
    expect((await store.mergeBitfield(HEX, 100_000, [99_999])).count).toBe(100_000);
    expect((await (await LocalFleetStore.open(vol.dir)).getBitfield(HEX, 100_000)).count).toBe(100_000);
  });

  it('drops the totals a failed write held, so the caller that tries again counts them once', async () => {
    const vol = mountTmpfs(join(makeTempDir('state-full'), 'state'), '256k');
    const store = await LocalFleetStore.open(vol.dir);
    await store.addTorrent({ infoHashHex: HEX, torrentFile: new Uint8Array(100).fill(7), desired: 'running', addedAt: 1, rechecks: 0, settings: defaultTorrentSettings(1) });
    const delta = { uploaded: 5, downloaded: 0, seedingMs: 0, activeMs: 0, lastActivityAt: 0, completedAt: 0 };
    await store.addTotals(HEX, delta);
    expect(() => writeFileSync(join(vol.dir, 'filler'), Buffer.alloc(256 * 1024))).toThrow(/ENOSPC/);
    await expect(store.addTotals(HEX, delta)).rejects.toThrow(/ENOSPC/);
    rmSync(join(vol.dir, 'filler'));
    // The keeper kept its delta and hands it over again: 5 + 5, not 5 + 5 + 5.
    expect((await store.addTotals(HEX, delta)).uploaded).toBe(10);
    const seen: number[] = [];
    const stop = await (await LocalFleetStore.open(vol.dir)).watchTotals((_hex, t) => seen.push(t?.uploaded ?? -1));
    await new Promise((r) => setImmediate(r));
    stop();
    expect(seen).toEqual([10]);
  });
});
