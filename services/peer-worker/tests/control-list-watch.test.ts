/**
 * ListTorrents' filters, sort and paging, AddTorrents' per-item answers and
 * WatchTorrents' changes_only stream, over a real grpc-js server on
 * 127.0.0.1 and the generated client, with the in-memory backend (the test
 * sets each torrent's state and figures); and SentFigures, which decides
 * what a changes_only stream sends, on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { credentials, Server, ServerCredentials, status, type ClientReadableStream } from '@grpc/grpc-js';
import { call, callError } from './support/grpc-call.js';
import { encodeBencode, parseMetainfo } from '@seedbox/protocol';
import {
  SeedboxControlClient,
  SeedboxControlService,
  TorrentFilter,
  TorrentSort,
  TorrentState,
  type AddTorrentsRequest,
  type AddTorrentsResponse,
  type ListTorrentsRequest,
  type ListTorrentsResponse,
  type TorrentStats,
  type WatchTorrentsResponse,
} from '@seedbox/proto';
import { createControlService, MAX_ADD_BATCH } from '../src/control/control-service.js';
import { SentFigures } from '../src/control/watch-changes.js';
import { MemoryControlBackend } from '../../../test/support/memory-control-backend.js';

/** A one-file torrent named `name`, `pieces` pieces of 16 KiB. */
function torrentFile(name: string, pieces = 1): Buffer {
  const hashes = Buffer.concat(Array.from({ length: pieces }, (_, i) => createHash('sha1').update(`${name} ${i}`).digest()));
  return Buffer.from(encodeBencode({ announce: 'http://t.example/announce', info: { length: 16384 * pieces, name, 'piece length': 16384, pieces: hashes } }));
}

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function start(backend: MemoryControlBackend, magnetWaitMs?: number): Promise<{ client: SeedboxControlClient; close: () => void }> {
  const server = new Server();
  server.addService(SeedboxControlService, createControlService(backend, magnetWaitMs === undefined ? {} : { magnetWaitMs }));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new SeedboxControlClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return {
    client,
    close: () => {
      client.close();
      server.forceShutdown();
    },
  };
}

describe('ListTorrents: filter, sort and page on the server', () => {
  const backend = new MemoryControlBackend('/srv/data');
  let running: Awaited<ReturnType<typeof start>>;
  const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  const h: Record<string, string> = {};
  const list = (r: ListTorrentsRequest): Promise<ListTorrentsResponse> => call(running.client.listTorrents.bind(running.client), r);
  const listed = async (r: ListTorrentsRequest): Promise<string[]> => (await list(r)).torrents.map((t) => t.name);

  beforeAll(async () => {
    running = await start(backend);
    await backend.putCategory('tv', 'tv', 'create');
    for (const [i, name] of names.entries()) {
      const { record } = await backend.add(torrentFile(name, i + 1), { paused: false, settings: i < 3 ? { category: 'tv', tags: i === 0 ? ['x', 'y'] : ['x'] } : {} });
      h[name] = record.infoHashHex;
      // Added one millisecond apart at least, so the default order is the order above.
      record.addedAt = 1_000 + i;
    }
    // alpha: seeding, uploading. bravo: seeding, idle. charlie: downloading. delta: downloading, nothing coming in.
    backend.setStats(h.alpha!, { state: 'seeding', complete: true, left: 0, uploadRate: 500 });
    backend.setStats(h.bravo!, { state: 'seeding', complete: true, left: 0 });
    backend.setStats(h.charlie!, { state: 'downloading', downloadRate: 2000, left: 8192 });
    backend.setStats(h.delta!, { state: 'downloading', downloadRate: 0 });
    // echo: checking. foxtrot: in error. golf: queued. hotel: paused, half there. india: paused, complete (by its bitfield). juliet: moving its data.
    backend.setStats(h.echo!, { state: 'checking' });
    backend.setStats(h.foxtrot!, { state: 'error', error: 'disk full' });
    backend.records.get(h.golf!)!.queued = true;
    backend.records.get(h.hotel!)!.desired = 'paused';
    backend.bitfields.set(h.hotel!, Uint8Array.of(0b1111_0000));
    backend.records.get(h.india!)!.desired = 'paused';
    backend.bitfields.set(h.india!, Uint8Array.of(0xff, 0b1000_0000));
    backend.records.get(h.juliet!)!.movingTo = '/srv/data/elsewhere';
    backend.records.get(h.alpha!)!.ratio = 2.5;
    backend.records.get(h.bravo!)!.ratio = 0.5;
  });
  afterAll(() => running.close());

  it('an empty request lists every torrent, oldest first, and says how many', async () => {
    const all = await list({});
    expect(all.torrents.map((t) => t.name)).toEqual(names);
    expect(all.total).toBe(names.length);
  });

  it.each<[string, TorrentFilter, string[]]>([
    ['downloading: not complete, whatever the state', TorrentFilter.TORRENT_FILTER_DOWNLOADING, ['charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'juliet']],
    ['seeding: complete and running', TorrentFilter.TORRENT_FILTER_SEEDING, ['alpha', 'bravo']],
    ['completed: complete, paused or not (by the bitfield when no worker reports it)', TorrentFilter.TORRENT_FILTER_COMPLETED, ['alpha', 'bravo', 'india']],
    ['paused', TorrentFilter.TORRENT_FILTER_PAUSED, ['hotel', 'india']],
    ['running', TorrentFilter.TORRENT_FILTER_RUNNING, ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'juliet']],
    ['active: bytes moving, or data moving', TorrentFilter.TORRENT_FILTER_ACTIVE, ['alpha', 'charlie', 'juliet']],
    ['inactive', TorrentFilter.TORRENT_FILTER_INACTIVE, ['bravo', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india']],
    ['stalled: downloading with nothing coming in, seeding with nothing going out', TorrentFilter.TORRENT_FILTER_STALLED, ['bravo', 'delta']],
    ['checking', TorrentFilter.TORRENT_FILTER_CHECKING, ['echo']],
    ['errored', TorrentFilter.TORRENT_FILTER_ERRORED, ['foxtrot']],
    ['queued', TorrentFilter.TORRENT_FILTER_QUEUED, ['golf']],
    ['moving', TorrentFilter.TORRENT_FILTER_MOVING, ['juliet']],
  ])('filter %s', async (_, filter, expected) => {
    const r = await list({ filter });
    expect(r.torrents.map((t) => t.name)).toEqual(expected);
    expect(r.total).toBe(expected.length);
  });

  it('category and tag: a name, or empty for none', async () => {
    expect(await listed({ category: 'tv' })).toEqual(['alpha', 'bravo', 'charlie']);
    expect(await listed({ category: '' })).toEqual(names.slice(3));
    expect(await listed({ category: 'films' })).toEqual([]);
    expect(await listed({ tag: 'y' })).toEqual(['alpha']);
    expect(await listed({ tag: '' })).toEqual(names.slice(3));
    expect(await listed({ tag: 'x', filter: TorrentFilter.TORRENT_FILTER_SEEDING })).toEqual(['alpha', 'bravo']);
  });

  it('info hashes in any case, unknown ones skipped; an empty list names none', async () => {
    expect(await listed({ hashes: { infoHashes: [h.golf!.toUpperCase(), h.bravo!, 'ab'.repeat(20)] } })).toEqual(['bravo', 'golf']);
    expect(await list({ hashes: { infoHashes: [] } })).toEqual({ torrents: [], total: 0 });
  });

  it('sorts by each key, ties by when added, and reverses the whole order', async () => {
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_NAME, reverse: true, limit: 3 })).toEqual(['juliet', 'india', 'hotel']);
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_SIZE, reverse: true, limit: 2 })).toEqual(['juliet', 'india']);
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_RATIO, reverse: true, limit: 2 })).toEqual(['alpha', 'bravo']);
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_DOWNLOAD_RATE, reverse: true, limit: 1 })).toEqual(['charlie']);
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_UPLOAD_RATE, reverse: true, limit: 1 })).toEqual(['alpha']);
    // Reversed, the whole order runs backwards, ties too: the complete ones newest first (india by its bitfield), then hotel (4 of its 8 pieces), then the newest of those with nothing.
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_PROGRESS, reverse: true, limit: 5 })).toEqual(['india', 'bravo', 'alpha', 'hotel', 'juliet']);
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_PROGRESS, limit: 2 })).toEqual(['charlie', 'delta']);
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_QUEUE_POSITION, limit: 2 })).toEqual(['alpha', 'bravo']);
    expect(await listed({ sort: TorrentSort.TORRENT_SORT_ADDED, reverse: true, limit: 1 })).toEqual(['juliet']);
  });

  it('pages with offset and limit; total is before paging; past the end is an empty page', async () => {
    expect(await list({ offset: 2, limit: 3 }).then((r) => [r.torrents.map((t) => t.name), r.total])).toEqual([['charlie', 'delta', 'echo'], 10]);
    expect(await list({ filter: TorrentFilter.TORRENT_FILTER_RUNNING, offset: 7, limit: 5 }).then((r) => [r.torrents.map((t) => t.name), r.total])).toEqual([['juliet'], 8]);
    expect(await list({ offset: 50 })).toEqual({ torrents: [], total: 10 });
  });

  it('omit_files leaves the files out, and only them', async () => {
    const [full] = (await list({ limit: 1 })).torrents;
    const [bare] = (await list({ limit: 1, omitFiles: true })).torrents;
    expect(full!.files).toHaveLength(1);
    expect(bare).toEqual({ ...full, files: [] });
  });

  it('refuses an unknown filter or sort and a malformed info hash with INVALID_ARGUMENT naming the field', async () => {
    const c = running.client;
    const filter = await callError(c.listTorrents.bind(c), { filter: 99 as TorrentFilter });
    expect(filter.code).toBe(status.INVALID_ARGUMENT);
    expect(filter.details).toMatch(/^filter must be one of TORRENT_FILTER_ALL, .*TORRENT_FILTER_MOVING \(got 99\)$/);
    const sort = await callError(c.listTorrents.bind(c), { sort: -1 as TorrentSort });
    expect(sort.details).toMatch(/^sort must be one of TORRENT_SORT_ADDED, .* \(got -1\)$/);
    const hash = await callError(c.listTorrents.bind(c), { hashes: { infoHashes: [h.alpha!, 'nope'] } });
    expect(hash.code).toBe(status.INVALID_ARGUMENT);
    expect(hash.details).toMatch(/^hashes\.info_hashes\[1\] must be 40 hexadecimal characters/);
  });
});

describe('AddTorrents', () => {
  const backend = new MemoryControlBackend('/srv/data');
  let running: Awaited<ReturnType<typeof start>>;
  const addMany = (r: AddTorrentsRequest): Promise<AddTorrentsResponse> => call(running.client.addTorrents.bind(running.client), r);

  // A magnet AddTorrent would wait a minute for: a batch must not.
  beforeAll(async () => (running = await start(backend, 60_000)));
  afterAll(() => running.close());

  it('answers each item apart, in order: created, already there, or the status AddTorrent would have failed with', async () => {
    const one = torrentFile('one');
    const two = torrentFile('two');
    const magnetHash = 'cd'.repeat(20);
    const started = Date.now();
    const r = await addMany({
      torrents: [
        { torrentFile: one, paused: false },
        { torrentFile: Buffer.from('d4:infoi1ee'), paused: false },
        { torrentFile: one, paused: true },
        { torrentFile: two, paused: true, category: 'nope' },
        { torrentFile: two, paused: true, tags: { tags: ['a'] } },
        { magnetUri: `magnet:?xt=urn:btih:${magnetHash}&dn=linked&tr=${encodeURIComponent('http://t.example/announce')}`, paused: false },
        { magnetUri: `magnet:?xt=urn:btih:${'ef'.repeat(20)}`, paused: false },
        { paused: false },
      ],
    });
    expect(Date.now() - started).toBeLessThan(5000);
    const [created, malformed, again, category, tagged, magnet, nowhere, empty] = r.results;
    expect(created).toMatchObject({ added: { created: true, torrent: { infoHash: parseMetainfo(one).infoHashHex, name: 'one' } } });
    expect(malformed).toEqual({ failure: { code: status.INVALID_ARGUMENT, message: expect.stringMatching(/^malformed torrent file: /) } });
    // Unchanged by the second add's `paused`.
    expect(again).toMatchObject({ added: { created: false, torrent: { state: TorrentState.TORRENT_STATE_DOWNLOADING } } });
    expect(category).toEqual({ failure: { code: status.INVALID_ARGUMENT, message: 'unknown-category: there is no category "nope"; create it first' } });
    expect(tagged).toMatchObject({ added: { created: true, torrent: { name: 'two', tags: ['a'], state: TorrentState.TORRENT_STATE_PAUSED } } });
    // Registered and answered at once, its metadata still to come.
    expect(magnet).toMatchObject({ added: { created: true, torrent: { infoHash: magnetHash, name: 'linked', state: TorrentState.TORRENT_STATE_METADATA } } });
    expect(nowhere).toEqual({ failure: { code: status.INVALID_ARGUMENT, message: expect.stringMatching(/^nowhere to fetch the metadata of/) } });
    expect(empty).toEqual({ failure: { code: status.INVALID_ARGUMENT, message: expect.stringMatching(/needs a source/) } });
    expect(backend.records.size).toBe(3);
  });

  it('an empty batch is an empty answer; one over the cap is refused whole, naming it', async () => {
    expect(await addMany({ torrents: [] })).toEqual({ results: [] });
    const tooMany = await callError(running.client.addTorrents.bind(running.client), { torrents: Array.from({ length: MAX_ADD_BATCH + 1 }, () => ({ paused: false })) });
    expect(tooMany.code).toBe(status.INVALID_ARGUMENT);
    expect(tooMany.details).toBe(`AddTorrents takes at most ${MAX_ADD_BATCH} torrents a call, got ${MAX_ADD_BATCH + 1}: send them in several calls`);
  });
});

describe('WatchTorrents with changes_only', () => {
  const backend = new MemoryControlBackend();
  let running: Awaited<ReturnType<typeof start>>;
  const A = torrentFile('a');
  const B = torrentFile('b');
  let a: string;
  let b: string;

  beforeAll(async () => {
    running = await start(backend);
    a = (await backend.add(A, { paused: false })).record.infoHashHex;
    b = (await backend.add(B, { paused: false })).record.infoHashHex;
  });
  afterAll(() => running.close());

  function collect(stream: ClientReadableStream<WatchTorrentsResponse>): WatchTorrentsResponse[] {
    const got: WatchTorrentsResponse[] = [];
    stream.on('data', (m: WatchTorrentsResponse) => got.push(m));
    stream.on('error', () => {});
    return got;
  }

  it('sends every torrent first, then only what changed and what went away; a tick with no change sends nothing', async () => {
    const got = collect(running.client.watchTorrents({ infoHashes: [], changesOnly: true }));
    await until(() => backend.listeners.size === 1, 'the watch to subscribe');
    backend.tick(1000);
    await until(() => got.length === 1, 'the first message');
    expect(got[0]!.full).toBe(true);
    expect(got[0]!.stats.map((s) => s.infoHash).sort()).toEqual([a, b].sort());
    // Only the time moves: nothing is sent. Then a's figures change, and b is paused (no worker reports it).
    backend.tick(2000);
    backend.setStats(a, { downloadRate: 300, peers: 2 });
    backend.records.get(b)!.desired = 'paused';
    backend.tick(3000);
    await until(() => got.length === 2, 'the second message');
    expect(got[1]).toMatchObject({ full: false, removed: [b] });
    expect(got[1]!.stats).toEqual([expect.objectContaining({ infoHash: a, downloadRate: 300, peers: 2, tickTimeMs: 3000 })]);

    // A watch that starts late starts from the whole picture: a alone now.
    const late = collect(running.client.watchTorrents({ infoHashes: [], changesOnly: true }));
    await until(() => backend.listeners.size === 2, 'the second watch to subscribe');
    backend.records.get(b)!.desired = 'running';
    backend.tick(4000);
    await until(() => late.length === 1 && got.length === 3, 'the next tick on both');
    expect(late[0]!.full).toBe(true);
    expect(late[0]!.stats.map((s) => s.infoHash).sort()).toEqual([a, b].sort());
    // The first watch has a already: b is back, a is not news.
    expect(got[2]!.stats.map((s) => s.infoHash)).toEqual([b]);
    expect(got[2]!.removed).toEqual([]);
  });

  it('without changes_only every message has every torrent, marked full', async () => {
    const before = backend.listeners.size;
    const got = collect(running.client.watchTorrents({ infoHashes: [] }));
    await until(() => backend.listeners.size === before + 1, 'the watch to subscribe');
    backend.tick(5000);
    backend.tick(6000);
    await until(() => got.length === 2, 'two messages');
    for (const m of got) {
      expect(m.full).toBe(true);
      expect(m.removed).toEqual([]);
      expect(m.stats).toHaveLength(2);
    }
  });
});

describe('SentFigures', () => {
  const stats = (infoHash: string, over: Partial<TorrentStats> = {}): TorrentStats => ({
    infoHash,
    downloadRate: 0,
    uploadRate: 0,
    downloadedBytes: 0,
    uploadedBytes: 0,
    peers: 0,
    seeds: 0,
    piecesVerified: 0,
    piecesFailed: 0,
    pieceCount: 1,
    leftBytes: 0,
    etaSeconds: 0,
    tickTimeMs: 0,
    state: TorrentState.TORRENT_STATE_SEEDING,
    error: '',
    peersSending: 0,
    peersGetting: 0,
    ...over,
  });

  it('compares with what it last sent, not with the last tick: a change in a tick never sent still goes out', () => {
    const sent = new SentFigures();
    expect(sent.next([stats('a'), stats('b')])).toMatchObject({ full: true, removed: [] });
    // A tick the stream skipped (the client reading slowly): next() is not called for it. Its change shows in the next message.
    expect(sent.next([stats('a', { peers: 3, tickTimeMs: 2 }), stats('b', { tickTimeMs: 2 })])?.stats.map((s) => s.infoHash)).toEqual(['a']);
    expect(sent.next([stats('a', { peers: 3, tickTimeMs: 3 }), stats('b', { tickTimeMs: 3 })])).toBeUndefined();
  });

  it('an empty first tick is still sent (full); a torrent that comes back is sent again; one seen twice in a tick counts once', () => {
    const sent = new SentFigures();
    expect(sent.next([])).toEqual({ stats: [], removed: [], full: true });
    expect(sent.next([stats('a'), stats('a')])?.stats).toHaveLength(1);
    expect(sent.next([])).toEqual({ stats: [], removed: ['a'], full: false });
    expect(sent.next([])).toBeUndefined();
    expect(sent.next([stats('a')])).toEqual({ stats: [stats('a')], removed: [], full: false });
  });
});
