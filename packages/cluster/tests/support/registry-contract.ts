import { expect } from 'vitest';
import { defaultTorrentSettings, NO_LIMIT, type FleetStore, type RegistryEntry } from '../../src/index.js';
import { sleep } from '../../../../test/support/processes.js';

const A = 'aa'.repeat(20);
const B = 'bb'.repeat(20);
const entry = (hex: string, addedAt = 1): RegistryEntry => ({ infoHashHex: hex, torrentFile: new Uint8Array([1, 2, 3]), desired: 'running', addedAt, rechecks: 0, settings: defaultTorrentSettings(addedAt) });

/** What every FleetStore must do, run against each (see local-fleet-store.test.ts for the other). */
export async function registryContract(state: FleetStore, reopen: () => Promise<FleetStore>): Promise<void> {
  const seen: [string, string | undefined][] = [];
  const stop = await state.watchTorrents((hex, e) => seen.push([hex, e?.desired]));
  expect(await state.addTorrent(entry(A, 2))).toBe(true);
  expect(await state.addTorrent({ ...entry(A, 2), desired: 'paused' })).toBe(false);
  expect(await state.addTorrent(entry(B, 1))).toBe(true);
  expect((await state.listTorrents()).map((e) => e.infoHashHex)).toEqual([B, A]);
  expect(await state.setDesired(A, 'paused')).toBe(true);
  expect((await state.getTorrent(A))!.desired).toBe('paused');
  expect(await state.requestRecheck(A)).toBe(true);
  expect((await state.getTorrent(A))!.rechecks).toBe(1);
  expect(await state.removeTorrent(B)).toBe(true);
  expect(await state.removeTorrent(B)).toBe(false);
  expect(await state.setDesired(B, 'running')).toBe(false);
  expect(await state.requestRecheck(B)).toBe(false);
  // Opening again (another service, or the next start) finds the same state.
  const other = await reopen();
  expect((await other.listTorrents()).map((e) => [e.infoHashHex, e.desired, e.rechecks])).toEqual([[A, 'paused', 1]]);
  for (let i = 0; i < 50 && seen.length < 5; i++) await sleep(20);
  expect(seen).toEqual([
    [A, 'running'],
    [B, 'running'],
    [A, 'paused'],
    [A, 'paused'],
    [B, undefined],
  ]);
  stop();
  // Bitfields: merged, replaced, and not trusted at the wrong size.
  await Promise.all(Array.from({ length: 10 }, (_, i) => state.mergeBitfield(A, 100, [i * 10, i * 10 + 1])));
  const bf = await state.getBitfield(A, 100);
  expect(bf.count).toBe(20);
  expect(bf.has(91)).toBe(true);
  expect((await state.getBitfield(A, 5000)).count).toBe(0);
  const only = await state.getBitfield(A, 100);
  for (let i = 0; i < 100; i++) if (i !== 91) only.clear(i);
  await state.replaceBitfield(A, only);
  expect([...(await (await reopen()).getBitfield(A, 100)).setIndices()]).toEqual([91]);
  await settingsContract(state, reopen);
  await idsContract(state, reopen);
  await magnetContract(state, reopen);
}

/**
 * A magnet awaiting its metadata: kept with an empty .torrent across
 * reopening; resolved once by compare-and-set, a second writer (another
 * owner) finding it resolved and leaving it.
 */
async function magnetContract(state: FleetStore, reopen: () => Promise<FleetStore>): Promise<void> {
  const M = 'dd'.repeat(20);
  const uri = `magnet:?xt=urn:btih:${M}&dn=x&tr=http%3A%2F%2Ft.example%2Fannounce`;
  expect(await state.addTorrent({ ...entry(M, 4), torrentFile: new Uint8Array(0), magnet: uri, id: 99 })).toBe(true);
  await state.updateTorrent(M, (e) => ({ ...e, metadataError: 'no peer gave it' }));
  const kept = (await (await reopen()).getTorrent(M))!;
  expect(kept).toMatchObject({ magnet: uri, metadataError: 'no peer gave it', id: 99, desired: 'running' });
  expect(kept.torrentFile).toHaveLength(0);
  const resolve = (file: number[]) => (e: RegistryEntry) => (e.magnet === undefined ? undefined : { ...e, torrentFile: new Uint8Array(file), magnet: undefined, metadataError: undefined });
  expect([...(await state.updateTorrent(M, resolve([7, 7])))!.torrentFile]).toEqual([7, 7]);
  // The later writer sees it resolved: the first write stands.
  expect([...(await state.updateTorrent(M, resolve([8])))!.torrentFile]).toEqual([7, 7]);
  const back = (await (await reopen()).getTorrent(M))!;
  expect([...back.torrentFile]).toEqual([7, 7]);
  expect(back.magnet).toBeUndefined();
  expect(back.metadataError).toBeUndefined();
  expect(back.id).toBe(99);
}

/** Torrent ids: never the same twice, even asked for at once, and an entry keeps its own. */
async function idsContract(state: FleetStore, reopen: () => Promise<FleetStore>): Promise<void> {
  const ids = await Promise.all(Array.from({ length: 8 }, () => state.nextTorrentId()));
  expect(new Set(ids).size).toBe(8);
  for (const id of ids) expect(Number.isSafeInteger(id) && id > 0).toBe(true);
  const mine = Math.max(...ids);
  const C = 'cc'.repeat(20);
  expect(await state.addTorrent({ ...entry(C, 3), id: mine })).toBe(true);
  const other = await reopen();
  expect((await other.getTorrent(C))!.id).toBe(mine);
  expect(await other.nextTorrentId()).toBeGreaterThan(mine);
}

/** Settings, the config and totals: stored, merged under races, and found again on reopening. */
async function settingsContract(state: FleetStore, reopen: () => Promise<FleetStore>): Promise<void> {
  const changed = await state.updateTorrent(A, (e) => ({ ...e, settings: { ...e.settings, category: 'tv', tags: ['x', 'y'], limits: { download: 1000, upload: 0 } }, limitReached: 'ratio' }));
  expect(changed?.settings.category).toBe('tv');
  expect(await state.updateTorrent(B, (e) => e)).toBeUndefined();
  const back = (await (await reopen()).getTorrent(A))!;
  expect(back.settings).toMatchObject({ category: 'tv', tags: ['x', 'y'], limits: { download: 1000, upload: 0 }, queueKey: 2 });
  expect(back.limitReached).toBe('ratio');

  const configs: number[] = [];
  const stopConfig = await state.watchConfig((c) => configs.push(c.speed.download));
  expect((await state.getConfig()).share.ratio).toBe(NO_LIMIT);
  await Promise.all([
    state.updateConfig((c) => ({ ...c, speed: { ...c.speed, download: 5000 } })),
    state.updateConfig((c) => ({ ...c, categories: { ...c.categories, tv: { savePath: 'tv' } } })),
  ]);
  const config = await (await reopen()).getConfig();
  expect(config.speed.download).toBe(5000);
  expect(config.categories).toEqual({ tv: { savePath: 'tv' } });
  for (let i = 0; i < 50 && !configs.includes(5000); i++) await sleep(20);
  expect(configs[0]).toBe(0);
  expect(configs).toContain(5000);
  stopConfig();

  const totals = new Map<string, number | undefined>();
  const stopTotals = await state.watchTotals((hex, t) => totals.set(hex, t?.uploaded));
  const delta = { uploaded: 10, downloaded: 1, seedingMs: 1000, activeMs: 1000, lastActivityAt: 5, completedAt: 3 };
  // Every worker adds its own share at once: none is lost.
  await Promise.all(Array.from({ length: 5 }, () => state.addTotals(A, delta)));
  for (let i = 0; i < 50 && totals.get(A) !== 50; i++) await sleep(20);
  expect(totals.get(A)).toBe(50);
  await state.removeTorrent(A);
  for (let i = 0; i < 50 && totals.has(A) && totals.get(A) !== undefined; i++) await sleep(20);
  expect(totals.get(A)).toBeUndefined();
  stopTotals();

  // A failed move is kept with the entry, across reopening, and cleared by the next update that says so.
  expect(await state.addTorrent(entry(B, 3))).toBe(true);
  const failure = { to: 'media/taken', message: '/data/media/taken/x exists already', at: 1234 };
  await state.updateTorrent(B, (e) => ({ ...e, moveError: failure }));
  expect((await (await reopen()).getTorrent(B))!.moveError).toEqual(failure);
  await state.updateTorrent(B, (e) => ({ ...e, moveError: undefined }));
  expect((await (await reopen()).getTorrent(B))!.moveError).toBeUndefined();
}

