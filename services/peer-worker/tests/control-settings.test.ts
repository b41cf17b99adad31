/**
 * The settings calls of the gRPC control API (SetTorrent, MoveTorrent,
 * MoveInQueue, GetConfig/SetConfig, the category calls, AddTorrent's
 * settings) over a real grpc-js server and the in-memory backend, which
 * keeps the fleet's rules: what a client sends, what it reads back, and the
 * INVALID_ARGUMENT a bad value gets, its details naming the rule.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Server, ServerCredentials, status } from '@grpc/grpc-js';
import { call, callError } from './support/grpc-call.js';
import { parseMetainfo } from '@seedbox/protocol';
import {
  AddTorrentRequest,
  CategoryMode,
  FilePriority,
  FleetConfigPatch,
  QueueDirection,
  SeedboxControlClient,
  SeedboxControlService,
  ShareAction,
  TorrentSettingsPatch,
  TorrentState,
  type Torrent,
} from '@seedbox/proto';
import { createControlService } from '../src/control/control-service.js';
import { MemoryControlBackend } from '../../../test/support/memory-control-backend.js';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/torrents');
const fixture = (name: string): Buffer => readFileSync(join(fixtures, name));
const SINGLE = fixture('mktorrent-single.torrent');
const SINGLE_HASH = parseMetainfo(SINGLE).infoHashHex;
const MULTI = fixture('mktorrent-multi.torrent');
const MULTI_HASH = parseMetainfo(MULTI).infoHashHex;
const PADDED = fixture('libtorrent-padded.torrent');
const PADDED_META = parseMetainfo(PADDED);
const UNKNOWN_HASH = '0123456789abcdef0123456789abcdef01234567';

describe('control service settings', () => {
  const backend = new MemoryControlBackend('/srv/data');
  let server: Server;
  let client: SeedboxControlClient;
  const set = (infoHash: string, patch: Partial<TorrentSettingsPatch>) =>
    call(client.setTorrent.bind(client), { infoHash, patch: TorrentSettingsPatch.fromPartial(patch) }).then((r) => r.torrent as Torrent);
  const setError = (infoHash: string, patch: Partial<TorrentSettingsPatch>) => callError(client.setTorrent.bind(client), { infoHash, patch: TorrentSettingsPatch.fromPartial(patch) });
  const add = (r: Partial<AddTorrentRequest>) => call(client.addTorrent.bind(client), AddTorrentRequest.fromPartial(r));
  const addError = (r: Partial<AddTorrentRequest>) => callError(client.addTorrent.bind(client), AddTorrentRequest.fromPartial(r));
  const get = (infoHash: string) => call(client.getTorrent.bind(client), { infoHash }).then((r) => r.torrent as Torrent);
  const setConfig = (patch: Partial<FleetConfigPatch>) => call(client.setConfig.bind(client), { patch: FleetConfigPatch.fromPartial(patch) }).then((r) => r.config!);
  const putCategory = (name: string, savePath: string, mode: CategoryMode) => call(client.putCategory.bind(client), { name, savePath, mode }).then((r) => r.categories);

  beforeAll(async () => {
    server = new Server();
    server.addService(SeedboxControlService, createControlService(backend));
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    client = new SeedboxControlClient(`127.0.0.1:${port}`, credentials.createInsecure());
    await add({ torrentFile: SINGLE });
  });
  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  describe('categories', () => {
    it('PutCategory creates, edits and upserts; ListCategories lists by name', async () => {
      expect(await putCategory('tv', 'media/tv', CategoryMode.CATEGORY_MODE_CREATE)).toEqual([{ name: 'tv', savePath: 'media/tv' }]);
      // An absolute folder inside the data folder is taken, stored relative.
      await putCategory('movies', '/srv/data/media/movies', CategoryMode.CATEGORY_MODE_UPSERT);
      await putCategory('tv', 'shows', CategoryMode.CATEGORY_MODE_EDIT);
      const list = await call(client.listCategories.bind(client), {});
      expect(list.categories).toEqual([
        { name: 'movies', savePath: 'media/movies' },
        { name: 'tv', savePath: 'shows' },
      ]);
    });

    it.each([
      ['tv', 'x', CategoryMode.CATEGORY_MODE_CREATE, /^category-exists: /],
      ['radio', 'x', CategoryMode.CATEGORY_MODE_EDIT, /^unknown-category: /],
      ['bad', '../elsewhere', CategoryMode.CATEGORY_MODE_UPSERT, /^save-path: the save folder \.\.\/elsewhere is outside the data folder \/srv\/data$/],
      ['', 'x', CategoryMode.CATEGORY_MODE_UPSERT, /^category-name: /],
      ['x', 'x', CategoryMode.CATEGORY_MODE_UNSPECIFIED, /^mode must be one of CATEGORY_MODE_CREATE/],
    ])('PutCategory %j %j refuses with INVALID_ARGUMENT naming the rule', async (name, savePath, mode, details) => {
      const err = await callError(client.putCategory.bind(client), { name, savePath, mode });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(details);
    });
  });

  describe('SetTorrent', () => {
    it('changes category, tags, limits, share limits and flags, and answers the Torrent', async () => {
      const t = await set(SINGLE_HASH, {
        category: 'tv',
        tags: { tags: ['a', 'b'] },
        downloadLimit: 20 * 1024 * 1024,
        uploadLimit: 1000,
        ratioLimit: 1.5,
        seedingTimeLimit: -1,
        inactiveSeedingTimeLimit: 30,
        forceStart: true,
        sequential: true,
        firstLastPiece: true,
      });
      expect(t).toMatchObject({
        category: 'tv',
        tags: ['a', 'b'],
        downloadLimit: 20 * 1024 * 1024,
        uploadLimit: 1000,
        ratioLimit: 1.5,
        seedingTimeLimit: -1,
        inactiveSeedingTimeLimit: 30,
        forceStart: true,
        sequential: true,
        firstLastPiece: true,
      });
      // What is absent stays.
      const again = await set(SINGLE_HASH, { addTags: ['c'], removeTags: ['a'], sequential: false });
      expect(again).toMatchObject({ category: 'tv', tags: ['b', 'c'], downloadLimit: 20 * 1024 * 1024, sequential: false, forceStart: true });
      expect((await set(SINGLE_HASH, { category: '', tags: { tags: [] } })).category).toBe('');
      expect((await get(SINGLE_HASH)).tags).toEqual([]);
    });

    it.each([
      ['a negative limit', { downloadLimit: -1 }, /^speed-limit: the download limit must be a whole number/],
      ['a ratio below -2', { ratioLimit: -3 }, /^share-limit: the ratio limit must be/],
      ['a NaN ratio', { ratioLimit: Number.NaN }, /^share-limit: ratio_limit must be a number/],
      ['an unknown category', { category: 'nope' }, /^unknown-category: there is no category "nope"/],
      ['an empty tag', { addTags: [' '] }, /^tag: /],
      ['a bad file index', { files: [{ indices: [1], priority: FilePriority.FILE_PRIORITY_SKIP }] }, /^file-index: file 1 does not exist: the torrent has files 0 to 0$/],
      ['an unnamed priority', { files: [{ indices: [0], priority: FilePriority.FILE_PRIORITY_UNSPECIFIED }] }, /^files\[0\]\.priority must be one of FILE_PRIORITY_SKIP/],
    ])('refuses %s with INVALID_ARGUMENT naming the rule, changing nothing', async (_what, patch, details) => {
      const before = structuredClone(backend.records.get(SINGLE_HASH)!.settings);
      const err = await setError(SINGLE_HASH, { ...patch, uploadLimit: 5 });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(details);
      expect(backend.records.get(SINGLE_HASH)!.settings).toEqual(before);
    });

    it('answers NOT_FOUND for an unknown torrent and INVALID_ARGUMENT for a bad hash', async () => {
      expect((await setError(UNKNOWN_HASH, { sequential: true })).code).toBe(status.NOT_FOUND);
      const bad = await setError('xyz', {});
      expect(bad.code).toBe(status.INVALID_ARGUMENT);
      expect(bad.details).toMatch(/^info_hash must be 40 hexadecimal characters/);
    });

    it('file priorities go by the index of Torrent.files, padding files left out, and show with bytes done', async () => {
      const { torrent } = await add({ torrentFile: PADDED, paused: true });
      const hash = torrent!.infoHash;
      const shown = torrent!.files;
      expect(shown.length).toBeLessThan(PADDED_META.files.length);
      const last = shown.length - 1;
      const t = await set(hash, { files: [{ indices: [0], priority: FilePriority.FILE_PRIORITY_SKIP }, { indices: [last], priority: FilePriority.FILE_PRIORITY_HIGH }] });
      expect(t.files.map((f) => f.priority)).toEqual(shown.map((_, i) => (i === 0 ? FilePriority.FILE_PRIORITY_SKIP : i === last ? FilePriority.FILE_PRIORITY_HIGH : FilePriority.FILE_PRIORITY_NORMAL)));
      // The model keeps one priority per metainfo file: the last shown file is the last real one.
      const settings = backend.records.get(hash)!.settings.filePriorities;
      expect(settings).toHaveLength(PADDED_META.files.length);
      expect(settings[PADDED_META.files.findLastIndex((f) => !f.padding)]).toBe('high');
      expect(t.files.every((f) => f.bytesDone === undefined)).toBe(true);

      const fileDone = PADDED_META.files.map((f, i) => (i === 0 ? f.length : 0));
      backend.setStats(hash, { fileDone });
      const withDone = await get(hash);
      expect(withDone.files[0]?.bytesDone).toBe(PADDED_META.files[0]!.length);
      expect(withDone.files[1]?.bytesDone).toBe(0);
      await call(client.removeTorrent.bind(client), { infoHash: hash, deleteData: false });
    });
  });

  describe('AddTorrent with settings', () => {
    it('takes the category (and its folder), tags and settings', async () => {
      const { torrent, created } = await add({
        torrentFile: MULTI,
        category: 'movies',
        tags: { tags: ['x'] },
        settings: TorrentSettingsPatch.fromPartial({ uploadLimit: 2048, sequential: true, files: [{ indices: [0], priority: FilePriority.FILE_PRIORITY_HIGH }] }),
      });
      expect(created).toBe(true);
      expect(torrent).toMatchObject({ category: 'movies', tags: ['x'], uploadLimit: 2048, sequential: true, savePath: '/srv/data/media/movies', queuePosition: 2 });
      expect(torrent?.files[0]?.priority).toBe(FilePriority.FILE_PRIORITY_HIGH);
      await call(client.removeTorrent.bind(client), { infoHash: MULTI_HASH, deleteData: false });
    });

    it('takes a save folder, which wins over the category', async () => {
      const { torrent } = await add({ torrentFile: MULTI, category: 'movies', savePath: 'incoming' });
      expect(torrent?.savePath).toBe('/srv/data/incoming');
      await call(client.removeTorrent.bind(client), { infoHash: MULTI_HASH, deleteData: false });
    });

    it.each([
      ['an unknown category', { category: 'nope' }, /^unknown-category: /],
      ['a save folder outside the data folder', { savePath: '/etc' }, /^save-path: the save folder \/etc is outside the data folder \/srv\/data$/],
      ['a negative limit', { settings: TorrentSettingsPatch.fromPartial({ uploadLimit: -5 }) }, /^speed-limit: the upload limit /],
      ['a bad file index', { settings: TorrentSettingsPatch.fromPartial({ files: [{ indices: [99], priority: FilePriority.FILE_PRIORITY_SKIP }] }) }, /^file-index: file 99 does not exist/],
      ['the category twice', { category: 'tv', settings: TorrentSettingsPatch.fromPartial({ category: 'tv' }) }, /^give the category once/],
    ])('refuses %s with INVALID_ARGUMENT and adds nothing', async (_what, request, details) => {
      const err = await addError({ torrentFile: MULTI, ...request });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(details);
      expect(backend.records.has(MULTI_HASH)).toBe(false);
    });

    it('refuses file priorities with a magnet URI, which has no file list yet', async () => {
      const err = await addError({ magnetUri: `magnet:?xt=urn:btih:${UNKNOWN_HASH}`, settings: TorrentSettingsPatch.fromPartial({ files: [{ indices: [0], priority: FilePriority.FILE_PRIORITY_SKIP }] }) });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/file priorities need the file list/);
    });
  });

  describe('MoveTorrent', () => {
    it('moves inside the data folder, relative or absolute', async () => {
      await call(client.moveTorrent.bind(client), { infoHash: SINGLE_HASH, savePath: 'done/single' });
      expect((await get(SINGLE_HASH)).savePath).toBe('/srv/data/done/single');
      await call(client.moveTorrent.bind(client), { infoHash: SINGLE_HASH, savePath: '/srv/data' });
      expect((await get(SINGLE_HASH)).savePath).toBe('/srv/data');
    });

    it.each([
      ['/tmp/x', /^save-path: the save folder \/tmp\/x is outside the data folder \/srv\/data$/],
      ['../x', /^save-path: /],
      ['.seedbox/x', /^save-path: the save folder \.seedbox\/x is inside the state folder$/],
      ['', /^save_path is required/],
    ])('refuses %j with INVALID_ARGUMENT', async (savePath, details) => {
      const err = await callError(client.moveTorrent.bind(client), { infoHash: SINGLE_HASH, savePath });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(details);
    });

    it('answers NOT_FOUND for an unknown torrent', async () => {
      expect((await callError(client.moveTorrent.bind(client), { infoHash: UNKNOWN_HASH, savePath: 'x' })).code).toBe(status.NOT_FOUND);
    });
  });

  describe('MoveInQueue', () => {
    it('moves torrents to the top, bottom, up and down', async () => {
      await add({ torrentFile: MULTI });
      const order = async () => (await call(client.listTorrents.bind(client), {})).torrents.sort((a, b) => a.queuePosition - b.queuePosition).map((t) => t.infoHash);
      expect(await order()).toEqual([SINGLE_HASH, MULTI_HASH]);
      await call(client.moveInQueue.bind(client), { infoHashes: [MULTI_HASH.toUpperCase()], direction: QueueDirection.QUEUE_DIRECTION_TOP });
      expect(await order()).toEqual([MULTI_HASH, SINGLE_HASH]);
      await call(client.moveInQueue.bind(client), { infoHashes: [MULTI_HASH], direction: QueueDirection.QUEUE_DIRECTION_DOWN });
      expect(await order()).toEqual([SINGLE_HASH, MULTI_HASH]);
      await call(client.moveInQueue.bind(client), { infoHashes: [MULTI_HASH], direction: QueueDirection.QUEUE_DIRECTION_UP });
      expect(await order()).toEqual([MULTI_HASH, SINGLE_HASH]);
      await call(client.moveInQueue.bind(client), { infoHashes: [MULTI_HASH], direction: QueueDirection.QUEUE_DIRECTION_BOTTOM });
      expect(await order()).toEqual([SINGLE_HASH, MULTI_HASH]);
    });

    it('refuses an unnamed direction and a bad hash', async () => {
      const dir = await callError(client.moveInQueue.bind(client), { infoHashes: [SINGLE_HASH], direction: QueueDirection.QUEUE_DIRECTION_UNSPECIFIED });
      expect(dir.code).toBe(status.INVALID_ARGUMENT);
      expect(dir.details).toMatch(/^direction must be one of QUEUE_DIRECTION_TOP/);
      const hash = await callError(client.moveInQueue.bind(client), { infoHashes: [SINGLE_HASH, 'x'], direction: QueueDirection.QUEUE_DIRECTION_TOP });
      expect(hash.details).toMatch(/^info_hashes\[1\] must be 40 hexadecimal characters/);
    });

    it('shows a queued torrent as QUEUED', async () => {
      backend.records.get(MULTI_HASH)!.queued = true;
      expect((await get(MULTI_HASH)).state).toBe(TorrentState.TORRENT_STATE_QUEUED);
      backend.records.get(MULTI_HASH)!.queued = false;
    });
  });

  describe('GetConfig and SetConfig', () => {
    it('answers the defaults, then the changes, leaving the rest', async () => {
      const { config } = await call(client.getConfig.bind(client), {});
      expect(config).toMatchObject({ downloadLimit: 0, uploadLimit: 0, altSpeedEnabled: false, queueingEnabled: false, ratioLimit: -1, shareAction: ShareAction.SHARE_ACTION_PAUSE });
      expect(config?.categories.map((c) => c.name)).toEqual(['movies', 'tv']);
      const next = await setConfig({
        downloadLimit: 1 << 20,
        altUploadLimit: 512,
        altSpeedEnabled: true,
        queueingEnabled: true,
        maxActiveDownloads: -1,
        maxActiveTorrents: 8,
        ratioLimit: 2,
        seedingTimeLimit: 1440,
        shareAction: ShareAction.SHARE_ACTION_REMOVE_WITH_DATA,
      });
      expect(next).toMatchObject({
        downloadLimit: 1 << 20,
        uploadLimit: 0,
        altUploadLimit: 512,
        altSpeedEnabled: true,
        queueingEnabled: true,
        maxActiveDownloads: -1,
        maxActiveSeeds: 3,
        maxActiveTorrents: 8,
        ratioLimit: 2,
        seedingTimeLimit: 1440,
        inactiveSeedingTimeLimit: -1,
        shareAction: ShareAction.SHARE_ACTION_REMOVE_WITH_DATA,
      });
      expect(backend.fleetConfig.shareAction).toBe('remove-with-data');
      // UNSPECIFIED leaves the action as it is.
      expect((await setConfig({ uploadLimit: 7 })).shareAction).toBe(ShareAction.SHARE_ACTION_REMOVE_WITH_DATA);
    });

    it.each([
      ['a negative limit', { uploadLimit: -1 }, /^speed-limit: the global upload limit must be a whole number/],
      ['a global ratio of -2', { ratioLimit: -2 }, /^share-limit: the global ratio limit must be -1 \(no limit\) or 0 and above/],
      ['a queue limit below -1', { maxActiveSeeds: -2 }, /^queue-limit: maxActiveSeeds /],
      ['an infinite ratio', { ratioLimit: Number.POSITIVE_INFINITY }, /^share-limit: ratio_limit must be a number/],
      ['an unnamed share action', { shareAction: 9 as ShareAction }, /^share_action must be one of SHARE_ACTION_PAUSE/],
    ])('refuses %s with INVALID_ARGUMENT naming the rule', async (_what, patch, details) => {
      const before = structuredClone(backend.fleetConfig);
      const err = await callError(client.setConfig.bind(client), { patch: FleetConfigPatch.fromPartial(patch) });
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(details);
      expect(backend.fleetConfig).toEqual(before);
    });
  });

  describe('RemoveCategories', () => {
    it('removes categories, and the torrents in one are left without', async () => {
      await set(SINGLE_HASH, { category: 'tv' });
      const { categories } = await call(client.removeCategories.bind(client), { names: ['tv', 'never-was'] });
      expect(categories).toEqual([{ name: 'movies', savePath: 'media/movies' }]);
      expect((await get(SINGLE_HASH)).category).toBe('');
    });
  });
});
