/**
 * Magnets in the fleet's registry: FleetPicture keeps those awaiting their
 * metadata apart (nothing to parse), and MagnetOwner has the torrent's
 * owner fetch the metadata and write the .torrent into the entry under
 * compare-and-set, over a real LocalFleetStore, with the fetch played by
 * the test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultTorrentSettings, LocalFleetStore, type RegistryEntry } from '@seedbox/cluster';
import { parseMagnet, parseMetainfo, type Magnet } from '@seedbox/protocol';
import { silentLogger } from '@seedbox/runtime';
import { checkMagnetSources } from '../src/fleet/fleet-backend.js';
import { FleetPicture } from '../src/fleet/fleet-picture.js';
import { MagnetOwner } from '../src/fleet/magnet-owner.js';
import type { ResolvedMagnet } from '../src/magnet-resolver.js';
import { MetadataFetchError, type MetadataFetchStats } from '../src/metadata-fetcher.js';

const MULTI = readFileSync(join(import.meta.dirname, '../../../test/fixtures/torrents/mktorrent-multi.torrent'));
const META = parseMetainfo(MULTI);
const HEX = META.infoHashHex;
const TRACKER = 'http://t.example/announce';
const URI = `magnet:?xt=urn:btih:${HEX}&dn=tree&tr=${encodeURIComponent(TRACKER)}`;

const pending = (over: Partial<RegistryEntry> = {}): RegistryEntry => ({
  infoHashHex: HEX,
  torrentFile: new Uint8Array(0),
  magnet: URI,
  desired: 'running',
  addedAt: 1,
  rechecks: 0,
  settings: defaultTorrentSettings(1),
  id: 1,
  ...over,
});

const STATS = { sources: ['10.0.0.1:6881'] } as unknown as MetadataFetchStats;
const resolved = (): ResolvedMagnet => ({ meta: META, peers: [{ host: '10.0.0.1', port: 6881 }], stats: STATS, seconds: 1.5, swarm: undefined });

/** A fetch the test answers: each call waits until resolved or failed, and sees its abort. */
class Fetches {
  readonly calls: { magnet: Magnet; signal: AbortSignal; resolve: (r: ResolvedMagnet) => void; reject: (e: Error) => void }[] = [];
  readonly fetch = (magnet: Magnet, signal: AbortSignal): Promise<ResolvedMagnet> =>
    new Promise((resolve, reject) => {
      this.calls.push({ magnet, signal, resolve, reject });
      signal.addEventListener('abort', () => reject(new MetadataFetchError('METADATA_STOPPED', 'stopped', magnet.infoHashHex, STATS)));
    });
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function store(): Promise<LocalFleetStore> {
  const dir = await mkdtemp(join(tmpdir(), 'seedbox-magnets-'));
  dirs.push(dir);
  return LocalFleetStore.open(dir);
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const all = async (s: LocalFleetStore): Promise<RegistryEntry[]> => s.listTorrents();

describe('FleetPicture', () => {
  it('keeps magnets awaiting their metadata apart (never parsed), counts them when paused, and takes them in once resolved', () => {
    const picture = new FleetPicture();
    picture.setEntry(HEX, pending({ desired: 'paused' }));
    expect(picture.has(HEX)).toBe(false);
    expect([...picture.entries()]).toEqual([]);
    expect([...picture.awaitingMetadata()].map((e) => e.infoHashHex)).toEqual([HEX]);
    expect(picture.pausedCount).toBe(1);
    expect(picture.doneBytes(HEX)).toBeUndefined();
    picture.setEntry(HEX, { ...pending(), torrentFile: MULTI, magnet: undefined });
    expect(picture.get(HEX)?.meta.name).toBe('tree');
    expect([...picture.awaitingMetadata()]).toEqual([]);
    expect(picture.pausedCount).toBe(0);
    picture.setEntry(HEX, undefined);
    expect(picture.has(HEX)).toBe(false);
  });
});

describe('MagnetOwner', () => {
  it("the owner fetches a running magnet and writes its .torrent into the entry (the dictionary's own bytes, the link's trackers); the peers that gave it go to the download once", async () => {
    const s = await store();
    await s.addTorrent(pending());
    const f = new Fetches();
    const owner = new MagnetOwner({ state: s, fetch: f.fetch, log: silentLogger });
    owner.sync(await all(s), () => true);
    owner.sync(await all(s), () => true);
    expect(f.calls).toHaveLength(1);
    expect(f.calls[0]!.magnet).toMatchObject({ infoHashHex: HEX, trackers: [TRACKER] });
    expect(owner.fetching).toEqual([HEX]);
    f.calls[0]!.resolve(resolved());
    await until(async () => (await s.getTorrent(HEX))?.magnet === undefined, 'the entry resolved');
    const e = (await s.getTorrent(HEX))!;
    const meta = parseMetainfo(e.torrentFile);
    expect(meta.infoHashHex).toBe(HEX);
    expect(meta.announce).toEqual([[TRACKER]]);
    expect(Buffer.from(meta.infoBytes).equals(Buffer.from(META.infoBytes))).toBe(true);
    expect(e).toMatchObject({ id: 1, desired: 'running' });
    expect(e.metadataError).toBeUndefined();
    expect(owner.takePeers(HEX)).toEqual([{ host: '10.0.0.1', port: 6881 }]);
    expect(owner.takePeers(HEX)).toBeUndefined();
    await owner.stop();
  });

  it('only the owner fetches, and not while paused; an attempt whose entry is paused, removed or owned elsewhere now is given up, leaving the entry as it is', async () => {
    const s = await store();
    await s.addTorrent(pending());
    const f = new Fetches();
    const owner = new MagnetOwner({ state: s, fetch: f.fetch, log: silentLogger });
    owner.sync(await all(s), () => false);
    owner.sync([pending({ desired: 'paused' })], () => true);
    expect(f.calls).toHaveLength(0);
    owner.sync(await all(s), () => true);
    expect(f.calls).toHaveLength(1);
    // Ownership moved to another worker.
    owner.sync(await all(s), () => false);
    expect(f.calls[0]!.signal.aborted).toBe(true);
    await until(() => owner.fetching.length === 0, 'the attempt to end');
    expect(await s.getTorrent(HEX)).toMatchObject({ magnet: URI });
    expect((await s.getTorrent(HEX))!.metadataError).toBeUndefined();
    // Removed: the attempt under way is given up too.
    owner.sync(await all(s), () => true);
    await s.removeTorrent(HEX);
    owner.sync(await all(s), () => true);
    expect(f.calls[1]!.signal.aborted).toBe(true);
    await owner.stop();
  });

  it('records a failed attempt in the entry and makes the next one retryMs later; a new owner tries at once', async () => {
    const s = await store();
    await s.addTorrent(pending());
    const f = new Fetches();
    let now = 1_000_000;
    const owner = new MagnetOwner({ state: s, fetch: f.fetch, log: silentLogger, retryMs: 60_000, now: () => now });
    owner.sync(await all(s), () => true);
    f.calls[0]!.reject(new MetadataFetchError('METADATA_TIMEOUT', 'no metadata after 120 s', HEX, STATS));
    await until(async () => (await s.getTorrent(HEX))?.metadataError !== undefined, 'the failure recorded');
    expect((await s.getTorrent(HEX))!).toMatchObject({ magnet: URI, metadataError: 'no metadata after 120 s' });
    await until(() => owner.fetching.length === 0, 'the attempt to end');
    now += 59_999;
    owner.sync(await all(s), () => true);
    expect(f.calls).toHaveLength(1);
    now += 1;
    owner.sync(await all(s), () => true);
    expect(f.calls).toHaveLength(2);
    const other = new MagnetOwner({ state: s, fetch: f.fetch, log: silentLogger, now: () => now });
    other.sync(await all(s), () => true);
    expect(f.calls).toHaveLength(3);
    // The retry succeeds: the error goes with the magnet.
    f.calls[2]!.resolve(resolved());
    await until(async () => (await s.getTorrent(HEX))?.magnet === undefined, 'the entry resolved');
    expect((await s.getTorrent(HEX))!.metadataError).toBeUndefined();
    await Promise.all([owner.stop(), other.stop()]);
  });

  it('two owners at once (ownership moved mid-fetch): the first write wins and the second leaves the entry', async () => {
    const s = await store();
    await s.addTorrent(pending());
    const writes: RegistryEntry[] = [];
    const stop = await s.watchTorrents((_hex, e) => e && writes.push(e));
    const f = new Fetches();
    const a = new MagnetOwner({ state: s, fetch: f.fetch, log: silentLogger });
    const b = new MagnetOwner({ state: s, fetch: f.fetch, log: silentLogger });
    a.sync(await all(s), () => true);
    b.sync(await all(s), () => true);
    expect(f.calls).toHaveLength(2);
    f.calls[0]!.resolve(resolved());
    await until(() => a.fetching.length === 0, 'the first to write');
    const first = (await s.getTorrent(HEX))!;
    f.calls[1]!.resolve(resolved());
    await until(() => b.fetching.length === 0, 'the second to finish');
    expect(await s.getTorrent(HEX)).toBe(first);
    // The initial entry, then the one resolution.
    expect(writes.filter((e) => e.magnet === undefined)).toHaveLength(1);
    stop();
    await Promise.all([a.stop(), b.stop()]);
  });
});

describe('checkMagnetSources', () => {
  it('refuses a bare magnet link (no tr, no x.pe) without the DHT, and takes it with the DHT, which finds it alone', () => {
    const bare = parseMagnet(`magnet:?xt=urn:btih:${HEX}`);
    expect(() => checkMagnetSources(bare)).toThrow(/nowhere to fetch the metadata/);
    expect(() => checkMagnetSources(bare, true)).not.toThrow();
    expect(() => checkMagnetSources(parseMagnet(URI))).not.toThrow();
  });
});
