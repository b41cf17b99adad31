/**
 * Running a seedbox (issue 14) against `seedbox serve` as a real process
 * and real peers (libtorrent), over the gRPC API: a queue that starts the
 * next download when one finishes (and a torrent moved to its top goes
 * first), a ratio limit that pauses a seed once a libtorrent leech took
 * enough and keeps it paused across a restart, a category's folder, a
 * skipped file never written, a seed moved to another folder that goes on
 * seeding from there, and bad values refused with the rule they break.
 * Every file is compared byte for byte.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import {
  CategoryMode,
  FilePriority,
  QueueDirection,
  ShareAction,
  ShareLimitReached,
  TorrentState,
  AddTorrentRequest,
  MoveInQueueRequest,
  MoveTorrentRequest,
  PutCategoryRequest,
  SetConfigRequest,
  SetTorrentRequest,
  type AddTorrentResponse,
  type GetConfigResponse,
  type GetTorrentResponse,
  type SetTorrentResponse,
  type Torrent,
} from '@seedbox/proto';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { call } from './support/fleet.js';
import { startLibtorrentLeech, startLibtorrentSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, sleep, waitFor } from './support/processes.js';
import { listTorrents, startServe, type Serve } from './support/serve.js';
import { needTools, tools } from './support/tools.js';
import { TransmissionRpc } from './support/web-clients.js';
import { startOpentracker } from './support/tracker.js';

const need = needTools(tools.libtorrent, tools.mktorrent, tools.opentracker);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

async function get(s: Serve, infoHash: string): Promise<Torrent> {
  return (await call<object, GetTorrentResponse>(s.control, 'getTorrent', { infoHash })).torrent!;
}

/** The gRPC error of a call that must fail. */
async function refusal(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: number; details: string };
  }
  throw new Error('the call succeeded');
}

const DOWNLOADING = new Set([TorrentState.TORRENT_STATE_DOWNLOADING, TorrentState.TORRENT_STATE_STALLED, TorrentState.TORRENT_STATE_CHECKING]);

describe.skipIf(!need.available)('running a seedbox: queue, seeding rules, folders, file selection', () => {
  let work: string;
  let trackerPort: number;
  const t: TestTorrent[] = [];
  /** The tracker every torrent names, for the tests whose seed serve must find. */
  const tracker = () => startOpentracker({ infoHashes: t.map((x) => x.infoHash), port: trackerPort });

  beforeAll(async () => {
    work = makeTempDir('manage');
    trackerPort = await freePort();
    const announce = `http://127.0.0.1:${trackerPort}/announce`;
    for (let i = 0; i < 5; i++) t.push(await makeTorrent({ dir: join(work, 'src'), name: `m${i}.bin`, pieceLength: 32 * 1024, tracker: announce, files: { size: 2 * 1024 * 1024 + i * 4099 } }));
    // Three files on piece boundaries: a skipped middle one shares no piece with the others.
    t.push(
      await makeTorrent({
        dir: join(work, 'src'),
        name: 'multi',
        pieceLength: 32 * 1024,
        tracker: announce,
        files: [
          { path: 'a.bin', size: 1024 * 1024 },
          { path: 'b.bin', size: 2 * 1024 * 1024 },
          { path: 'c.bin', size: 1024 * 1024 + 777 },
        ],
      }),
    );
  }, 120_000);

  it('runs one download at a time with the queue on, the next when one finishes; a torrent moved to the top goes first', async () => {
    const queued = t.slice(0, 3);
    await tracker();
    // Slow enough (2 MiB a second, shared) that each download takes about a second.
    const seed = await startLibtorrentSeed({ torrentPath: queued.map((x) => x.torrentPath), dataRoot: queued[0]!.dataRoot, uploadLimit: 2 * 1024 * 1024 });
    const data = join(work, 'queue', 'data');
    mkdirSync(data, { recursive: true });
    const s = await startServe(data);
    await call(s.control, 'setConfig', SetConfigRequest.fromPartial({ patch: { queueingEnabled: true, maxActiveDownloads: 1, maxActiveSeeds: -1, maxActiveTorrents: -1, ignoreSlowTorrents: false } }));
    // Added paused, so that none starts before the queue is set up.
    for (const x of queued) {
      await call(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(x.torrentPath), paused: true }));
      await sleep(5);
    }
    const last = queued[2]!.infoHash;
    await call(s.control, 'moveInQueue', MoveInQueueRequest.fromPartial({ infoHashes: [last], direction: QueueDirection.QUEUE_DIRECTION_TOP }));
    expect((await get(s, last)).queuePosition).toBe(1);
    for (const x of queued) await call(s.control, 'resumeTorrent', { infoHash: x.infoHash });
    const order: string[] = [];
    let mostAtOnce = 0;
    let sawQueued = false;
    await waitFor(
      async () => {
        const all = await listTorrents(s);
        mostAtOnce = Math.max(mostAtOnce, all.filter((x) => DOWNLOADING.has(x.state)).length);
        sawQueued ||= all.some((x) => x.state === TorrentState.TORRENT_STATE_QUEUED);
        for (const x of all) if (x.state === TorrentState.TORRENT_STATE_SEEDING && !order.includes(x.infoHash)) order.push(x.infoHash);
        return order.length === 3;
      },
      60_000,
      'every queued torrent seeding',
      { intervalMs: 100 },
    );
    expect(sawQueued).toBe(true);
    expect(mostAtOnce).toBe(1);
    expect(order).toEqual([last, queued[0]!.infoHash, queued[1]!.infoHash]);
    for (const x of queued) expect(await compareTrees(x.contentPath, join(data, x.infoHash, x.name)), x.name).toBeNull();
    await s.stop();
    await seed.stop();
  }, 120_000);

  it('leaves a slow download out of the queue count, so the next one starts beside it', async () => {
    const pair = t.slice(1, 3);
    await tracker();
    // 256 KiB/s shared: each 2 MiB download takes seconds, far under the slow threshold below.
    const seed = await startLibtorrentSeed({ torrentPath: pair.map((x) => x.torrentPath), dataRoot: pair[0]!.dataRoot, uploadLimit: 256 * 1024 });
    const data = join(work, 'slow', 'data');
    mkdirSync(data, { recursive: true });
    const s = await startServe(data);
    // One active download, but anything under 64 MiB/s for 2 s is slow and does not count.
    await call(s.control, 'setConfig', SetConfigRequest.fromPartial({ patch: { queueingEnabled: true, maxActiveDownloads: 1, maxActiveSeeds: -1, maxActiveTorrents: -1, ignoreSlowTorrents: true, slowDownloadRate: 64 * 1024 * 1024, slowUploadRate: 64 * 1024 * 1024, slowSeconds: 2 } }));
    for (const x of pair) await call(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(x.torrentPath) }));
    let sawQueued = false;
    let bothAtOnce = false;
    await waitFor(
      async () => {
        const all = await listTorrents(s);
        sawQueued ||= all.some((x) => x.state === TorrentState.TORRENT_STATE_QUEUED);
        bothAtOnce ||= all.filter((x) => DOWNLOADING.has(x.state)).length === 2;
        return all.every((x) => x.state === TorrentState.TORRENT_STATE_SEEDING);
      },
      90_000,
      'both downloaded',
      { intervalMs: 100 },
    );
    // The second waited its turn at first, then started while the first was still downloading, slowly.
    expect(sawQueued).toBe(true);
    expect(bothAtOnce).toBe(true);
    for (const x of pair) expect(await compareTrees(x.contentPath, join(data, x.infoHash, x.name)), x.name).toBeNull();
    await s.stop();
    await seed.stop();
  }, 150_000);

  it('pauses a seed at its ratio limit once a libtorrent leech took enough, and it stays paused across a restart', async () => {
    const x = t[3]!;
    const data = join(work, 'ratio', 'data');
    let s = await startServe(data);
    await call(s.control, 'putCategory', PutCategoryRequest.fromPartial({ name: 'tv', savePath: 'media/tv', mode: CategoryMode.CATEGORY_MODE_CREATE }));
    // The data already there, in the category's folder: the torrent comes complete.
    mkdirSync(join(data, 'media', 'tv'), { recursive: true });
    copyFileSync(x.contentPath, join(data, 'media', 'tv', x.name));
    const added = await call<object, AddTorrentResponse>(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(x.torrentPath), category: 'tv', tags: { tags: ['keep', 'hd'] }, settings: { ratioLimit: 1 } }));
    expect(added.torrent).toMatchObject({ category: 'tv', tags: ['keep', 'hd'], savePath: join(data, 'media', 'tv'), ratioLimit: 1 });
    await waitFor(async () => (await get(s, x.infoHash)).state === TorrentState.TORRENT_STATE_SEEDING, 30_000, 'the torrent seeding');
    const leech = await startLibtorrentLeech({ torrentPath: x.torrentPath, saveDir: join(work, 'ratio', 'leech'), peers: [{ host: '127.0.0.1', port: s.listenPort }] });
    await leech.waitDone(60_000);
    expect(await compareTrees(x.contentPath, join(work, 'ratio', 'leech', x.name))).toBeNull();
    // Uploaded its size once over: a ratio of 1, counting what it came with as downloaded.
    await waitFor(async () => (await get(s, x.infoHash)).state === TorrentState.TORRENT_STATE_PAUSED, 20_000, 'paused by the ratio limit');
    const paused = await get(s, x.infoHash);
    expect(paused.limitReached).toBe(ShareLimitReached.SHARE_LIMIT_REACHED_RATIO);
    expect(paused.ratio).toBeGreaterThanOrEqual(1);
    expect(paused.uploadedTotal).toBeGreaterThanOrEqual(x.totalSize);
    await s.stop();
    await leech.stop();

    s = await startServe(data, [], 'serve-again');
    const again = await get(s, x.infoHash);
    expect(again).toMatchObject({ state: TorrentState.TORRENT_STATE_PAUSED, limitReached: ShareLimitReached.SHARE_LIMIT_REACHED_RATIO, category: 'tv', tags: ['keep', 'hd'] });
    expect(again.uploadedTotal).toBe(paused.uploadedTotal);
    const config = (await call<object, GetConfigResponse>(s.control, 'getConfig', {})).config!;
    expect(config.categories).toEqual([{ name: 'tv', savePath: 'media/tv' }]);
    // Raising the limit and resuming: it seeds again, the mark gone.
    await call(s.control, 'setTorrent', SetTorrentRequest.fromPartial({ infoHash: x.infoHash, patch: { ratioLimit: -1 } }));
    await call(s.control, 'resumeTorrent', { infoHash: x.infoHash });
    await waitFor(async () => (await get(s, x.infoHash)).state === TorrentState.TORRENT_STATE_SEEDING, 20_000, 'seeding again');
    expect((await get(s, x.infoHash)).limitReached).toBe(ShareLimitReached.SHARE_LIMIT_REACHED_NONE);
    await s.stop();
  }, 150_000);

  it('never writes a skipped file, seeds what it has, and a seed moved to another folder goes on seeding from there', async () => {
    const multi = t[5]!;
    const single = t[4]!;
    await tracker();
    const seed = await startLibtorrentSeed({ torrentPath: [multi.torrentPath, single.torrentPath], dataRoot: multi.dataRoot });
    const data = join(work, 'files', 'data');
    const s = await startServe(data);
    const added = await call<object, AddTorrentResponse>(s.control, 'addTorrent', AddTorrentRequest.fromPartial({
      torrentFile: readFileSync(multi.torrentPath),
      savePath: 'incoming',
      settings: { files: [{ indices: [1], priority: FilePriority.FILE_PRIORITY_SKIP }] },
    }));
    expect(added.torrent!.files.map((f) => f.priority)).toEqual([FilePriority.FILE_PRIORITY_NORMAL, FilePriority.FILE_PRIORITY_SKIP, FilePriority.FILE_PRIORITY_NORMAL]);
    await call(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(single.torrentPath), savePath: join(data, 'incoming') }));
    let states = '';
    await waitFor(
      async () => {
        const all = await listTorrents(s);
        states = all.map((x) => `${x.name}: ${TorrentState[x.state]} ${x.stats?.piecesVerified}/${x.pieceCount} ${JSON.stringify(x.files)} rate ${x.stats?.downloadRate}`).join(', ');
        return all.every((x) => x.state === TorrentState.TORRENT_STATE_SEEDING);
      },
      60_000,
      'both seeding',
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${states}`);
    });
    const content = join(data, 'incoming', 'multi');
    expect(readFileSync(join(content, 'a.bin')).equals(readFileSync(join(multi.contentPath, 'a.bin')))).toBe(true);
    expect(readFileSync(join(content, 'c.bin')).equals(readFileSync(join(multi.contentPath, 'c.bin')))).toBe(true);
    expect(existsSync(join(content, 'b.bin'))).toBe(false);
    const files = (await get(s, multi.infoHash)).files;
    expect(files.map((f) => f.bytesDone)).toEqual([1024 * 1024, 0, 1024 * 1024 + 777]);

    // Moved while seeding: the content leaves `incoming`, and a leech gets it all from the new place.
    await call(s.control, 'moveTorrent', MoveTorrentRequest.fromPartial({ infoHash: single.infoHash, savePath: 'done/films' }));
    await waitFor(async () => (await get(s, single.infoHash)).savePath === join(data, 'done', 'films'), 20_000, 'the move');
    expect(existsSync(join(data, 'incoming', single.name))).toBe(false);
    await seed.stop();
    const leech = await startLibtorrentLeech({ torrentPath: single.torrentPath, saveDir: join(work, 'files', 'leech'), peers: [{ host: '127.0.0.1', port: s.listenPort }] });
    await leech.waitDone(60_000);
    expect(await compareTrees(single.contentPath, join(work, 'files', 'leech', single.name))).toBeNull();
    expect(await compareTrees(single.contentPath, join(data, 'done', 'films', single.name))).toBeNull();
    await s.stop();
  }, 150_000);

  it('acts on a seeding rule with remove-with-data (the files go) and with remove (they stay)', async () => {
    const data = join(work, 'rules', 'data');
    const s = await startServe(data);
    const inPlace = (x: TestTorrent): void => {
      mkdirSync(join(data, x.infoHash), { recursive: true });
      copyFileSync(x.contentPath, join(data, x.infoHash, x.name));
    };
    const gone = async (x: TestTorrent): Promise<void> => {
      await waitFor(async () => !(await listTorrents(s)).some((y) => y.infoHash === x.infoHash), 20_000, `${x.name} removed by its rule`);
    };
    // A ratio limit of 0 is reached the moment a torrent is complete: here, once its data is checked.
    await call(s.control, 'setConfig', SetConfigRequest.fromPartial({ patch: { shareAction: ShareAction.SHARE_ACTION_REMOVE_WITH_DATA } }));
    const withData = t[0]!;
    inPlace(withData);
    await call(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(withData.torrentPath), settings: { ratioLimit: 0 } }));
    await gone(withData);
    await waitFor(() => !existsSync(join(data, withData.infoHash)), 20_000, 'its files deleted');

    await call(s.control, 'setConfig', SetConfigRequest.fromPartial({ patch: { shareAction: ShareAction.SHARE_ACTION_REMOVE } }));
    const kept = t[1]!;
    inPlace(kept);
    await call(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(kept.torrentPath), settings: { ratioLimit: 0 } }));
    await gone(kept);
    expect(await compareTrees(kept.contentPath, join(data, kept.infoHash, kept.name))).toBeNull();
    await s.stop();
  }, 90_000);

  it('a move that fails leaves the data and the torrent where they were, and says why in gRPC and the Transmission RPC; the next move clears it', async () => {
    const x = t[2]!;
    const data = join(work, 'badmove', 'data');
    const s = await startServe(data);
    mkdirSync(join(data, x.infoHash), { recursive: true });
    copyFileSync(x.contentPath, join(data, x.infoHash, x.name));
    await call(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(x.torrentPath) }));
    await waitFor(async () => (await get(s, x.infoHash)).state === TorrentState.TORRENT_STATE_SEEDING, 20_000, 'seeding');
    // Something else's file where the content would go: the move must not overwrite it.
    mkdirSync(join(data, 'taken'), { recursive: true });
    writeFileSync(join(data, 'taken', x.name), 'not ours');
    await call(s.control, 'moveTorrent', MoveTorrentRequest.fromPartial({ infoHash: x.infoHash, savePath: 'taken' }));
    await waitFor(async () => (await get(s, x.infoHash)).moveError !== '', 20_000, 'the failed move recorded');
    const failed = await get(s, x.infoHash);
    expect(failed).toMatchObject({ savePath: join(data, x.infoHash), movingTo: '', moveErrorTo: join(data, 'taken'), state: TorrentState.TORRENT_STATE_SEEDING });
    expect(failed.moveError).toMatch(/exists already/);
    expect(readFileSync(join(data, 'taken', x.name), 'utf8')).toBe('not ours');
    expect(await compareTrees(x.contentPath, join(data, x.infoHash, x.name))).toBeNull();
    // What Sonarr reads from a Transmission client (serve without a login asks none on loopback).
    const rpc = new TransmissionRpc(`http://127.0.0.1:${s.webPort}/transmission/rpc`);
    const got = await rpc.torrent(x.infoHash, ['error', 'errorString', 'status']);
    expect(got).toMatchObject({ error: 3, status: 6, errorString: expect.stringMatching(/^moving the data to .*taken failed: .*exists already/) });
    await call(s.control, 'moveTorrent', MoveTorrentRequest.fromPartial({ infoHash: x.infoHash, savePath: 'free' }));
    await waitFor(async () => (await get(s, x.infoHash)).savePath === join(data, 'free'), 20_000, 'the second move');
    expect((await get(s, x.infoHash)).moveError).toBe('');
    expect(await compareTrees(x.contentPath, join(data, 'free', x.name))).toBeNull();
    await s.stop();
  }, 90_000);

  it('refuses bad values with the rule they break, and changes nothing', async () => {
    const x = t[0]!;
    const data = join(work, 'bad', 'data');
    const s = await startServe(data);
    const outside = await refusal(call(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(x.torrentPath), savePath: '../elsewhere' })));
    expect(outside.code).toBe(Status.INVALID_ARGUMENT);
    expect(outside.details).toMatch(/save-path.*outside the data folder/);
    expect(await listTorrents(s)).toEqual([]);
    await call(s.control, 'addTorrent', AddTorrentRequest.fromPartial({ torrentFile: readFileSync(x.torrentPath), paused: true }));
    for (const [patch, rule] of [
      [{ downloadLimit: -5 }, /speed-limit/],
      [{ category: 'nope' }, /unknown-category/],
      [{ ratioLimit: -3 }, /share-limit/],
      [{ files: [{ indices: [9], priority: FilePriority.FILE_PRIORITY_SKIP }] }, /file-index/],
    ] as [Record<string, unknown>, RegExp][]) {
      const r = await refusal(call(s.control, 'setTorrent', SetTorrentRequest.fromPartial({ infoHash: x.infoHash, patch })));
      expect(r.code, JSON.stringify(patch)).toBe(Status.INVALID_ARGUMENT);
      expect(r.details).toMatch(rule);
    }
    const cat = await refusal(call(s.control, 'putCategory', PutCategoryRequest.fromPartial({ name: 'x', savePath: '/etc', mode: CategoryMode.CATEGORY_MODE_UPSERT })));
    expect(cat.details).toMatch(/save-path/);
    const moved = await refusal(call(s.control, 'moveTorrent', MoveTorrentRequest.fromPartial({ infoHash: x.infoHash, savePath: '/tmp' })));
    expect(moved.details).toMatch(/save-path/);
    const after = await call<object, SetTorrentResponse>(s.control, 'setTorrent', SetTorrentRequest.fromPartial({ infoHash: x.infoHash, patch: {} }));
    expect(after.torrent).toMatchObject({ downloadLimit: 0, category: '', ratioLimit: -2, savePath: join(data, x.infoHash) });
    await s.stop();
  }, 60_000);
});
