/**
 * The control API at 10,000 torrents (issue 20), over what `seedbox serve`
 * runs: FleetBackend on a LocalFleetStore in a temporary folder, behind
 * the gRPC service on 127.0.0.1 and the generated client. What the fleet's
 * runner would add (queued, totals, figures) is played by the test, which
 * also counts the store's reads: a list must read the registry once and
 * sort it once, an add must read one key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, Metadata, Server, ServerCredentials, type ServiceError } from '@grpc/grpc-js';
import { LocalFleetStore, type FleetStore } from '@seedbox/cluster';
import { encodeBencode, parseMetainfo } from '@seedbox/protocol';
import { silentLogger } from '@seedbox/runtime';
import { SeedboxControlClient, SeedboxControlService, TorrentFilter, TorrentSort, TorrentState, type AddTorrentsResponse, type ListTorrentsRequest, type ListTorrentsResponse, type WatchTorrentsResponse } from '@seedbox/proto';
import type { StatsSource, StatsTick, TorrentStatsView } from '../src/control/backend.js';
import { createControlService } from '../src/control/control-service.js';
import { FleetBackend } from '../src/fleet/fleet-backend.js';
import { createQbittorrentApi } from '../src/web/qbittorrent/qbittorrent-api.js';
import { WebAuth } from '../src/web/web-auth.js';
import { startWebServer, type WebServer } from '../src/web/web-server.js';

const N = 10_000;

/** Torrent i: one 16 KiB file, one piece; every one a different info hash. */
function torrentFile(i: number): Buffer {
  const pieces = createHash('sha1').update(`piece ${i}`).digest();
  return Buffer.from(encodeBencode({ announce: 'http://t.example/announce', info: { length: 16384, name: `t${String(i).padStart(5, '0')}.bin`, 'piece length': 16384, pieces } }));
}

/** The figures a fleet tick would have: set by the test, handed to listeners on tick(). */
class TestStats implements StatsSource {
  readonly views = new Map<string, TorrentStatsView>();
  private readonly listeners = new Set<(t: StatsTick) => void>();
  get(hex: string): TorrentStatsView | undefined {
    return this.views.get(hex);
  }
  onTick(l: (t: StatsTick) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  get watchers(): number {
    return this.listeners.size;
  }
  tick(): void {
    const all = [...this.views.values()];
    const t: StatsTick = { changed: all, removed: [], downloadRate: 0, uploadRate: 0, all: () => all };
    for (const l of this.listeners) l(t);
  }
  set(hex: string, over: Partial<TorrentStatsView> = {}): void {
    this.views.set(hex, { infoHashHex: hex, downloadRate: 0, uploadRate: 0, downloaded: 0, uploaded: 0, peers: 0, seeds: 0, peersSending: 0, peersGetting: 0, piecesVerified: 1, piecesFailed: 0, pieceCount: 1, left: 0, eta: 0, complete: true, time: 1, state: 'seeding', ...over });
  }
}

/** The store, counting the calls that read the whole registry and those that read one key. */
function counting(store: LocalFleetStore): { state: FleetStore; reads: { list: number; get: number } } {
  const reads = { list: 0, get: 0 };
  const state = new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (key === 'listTorrents') return (...a: unknown[]) => (reads.list++, (v as (...x: unknown[]) => unknown).apply(target, a));
      if (key === 'getTorrent') return (...a: unknown[]) => (reads.get++, (v as (...x: unknown[]) => unknown).apply(target, a));
      return (v as (...x: unknown[]) => unknown).bind(target);
    },
  });
  return { state, reads };
}

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;
function call<Req, Res>(method: Unary<Req, Res>, request: Req, ms = 30_000): Promise<Res> {
  return new Promise((resolve, reject) => method(request, new Metadata(), { deadline: Date.now() + ms }, (err, res) => (err ? reject(err) : resolve(res))));
}

describe('the control API at 10,000 torrents (FleetBackend over the serve store)', () => {
  let dir: string;
  let store: LocalFleetStore;
  let reads: { list: number; get: number };
  let backend: FleetBackend;
  const stats = new TestStats();
  const queued = new Set<string>();
  let server: Server;
  let client: SeedboxControlClient;
  const files = Array.from({ length: N }, (_, i) => torrentFile(i));
  const hashes = files.map((f) => parseMetainfo(f).infoHashHex);
  const list = (r: ListTorrentsRequest): Promise<ListTorrentsResponse> => call(client.listTorrents.bind(client), r);
  /** The registry's own orders, from the store: when added (the list's default order), and the queue's. */
  const orders = async (): Promise<{ added: string[]; queue: string[] }> => {
    const entries = await store.listTorrents();
    const byHash = (a: { infoHashHex: string }, b: { infoHashHex: string }): number => (a.infoHashHex < b.infoHashHex ? -1 : 1);
    return {
      added: [...entries].sort((a, b) => a.addedAt - b.addedAt || byHash(a, b)).map((e) => e.infoHashHex),
      queue: [...entries].sort((a, b) => a.settings.queueKey - b.settings.queueKey || byHash(a, b)).map((e) => e.infoHashHex),
    };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'seedbox-control-scale-'));
    store = await LocalFleetStore.open(dir);
    const counted = counting(store);
    reads = counted.reads;
    backend = new FleetBackend({
      state: counted.state,
      stats,
      trackers: { status: () => [], reannounce: async () => 0 },
      peers: { peers: async () => [], addPeers: async () => {} },
      deleteData: async () => {},
      dataDir: dir,
      fleet: { queued: (h) => queued.has(h), totals: () => undefined, doneBytes: () => undefined, fileDone: () => undefined, done: () => undefined, pieces: () => undefined, metainfo: () => undefined },
    });
    await backend.putCategory('tv', 'tv', 'create');
    server = new Server();
    server.addService(SeedboxControlService, createControlService(backend));
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    client = new SeedboxControlClient(`127.0.0.1:${port}`, credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  });
  afterAll(async () => {
    client?.close();
    server?.forceShutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it('AddTorrents adds 10,000 files in batches of 100 at 100 a second or more; a malformed one fails alone', async () => {
    const started = performance.now();
    let created = 0;
    const batches: Promise<void>[] = [];
    for (let b = 0; b < N; b += 100) {
      const torrents = files.slice(b, b + 100).map((torrentFile, k) => {
        const i = b + k;
        return { torrentFile, paused: i % 10 === 0, ...(i % 4 === 0 ? { category: 'tv' } : {}) };
      });
      if (b === 0) torrents.push({ torrentFile: Buffer.from('d4:infoi1ee'), paused: false });
      batches.push(
        call(client.addTorrents.bind(client), { torrents }).then((r: AddTorrentsResponse) => {
          for (const x of r.results) if (x.added?.created) created++;
          if (b === 0) expect(r.results.at(-1)).toEqual({ failure: { code: 3, message: expect.stringMatching(/^not a valid torrent: /) } });
        }),
      );
      // Two batches in flight, as the CLI sends them.
      if (batches.length >= 2) await batches.shift();
    }
    await Promise.all(batches);
    const perSecond = N / ((performance.now() - started) / 1000);
    expect(created).toBe(N);
    expect(perSecond).toBeGreaterThanOrEqual(100);
  }, 240_000);

  it('an add reads one key of the registry, never the whole of it, at once or as a duplicate', async () => {
    const before = { ...reads };
    const again = await backend.add(files[5]!, { paused: false });
    expect(again.created).toBe(false);
    expect(reads.list).toBe(before.list);
    expect(reads.get - before.get).toBe(1);
  });

  it('ListTorrents answers all 10,000 within a second, the queue positions 1 to N in queue order, from one read of the registry', async () => {
    await backend.moveInQueue([hashes[N - 1]!], 'top');
    const before = reads.list;
    const started = performance.now();
    const all = await list({ omitFiles: true });
    const ms = performance.now() - started;
    expect(reads.list - before).toBe(1);
    expect(all.total).toBe(N);
    const { added, queue } = await orders();
    // Oldest first (adds in the same millisecond by info hash).
    expect(all.torrents.map((t) => t.infoHash)).toEqual(added);
    const positions = new Map(all.torrents.map((t) => [t.infoHash, t.queuePosition]));
    expect(queue.map((h) => positions.get(h))).toEqual(queue.map((_, i) => i + 1));
    expect(positions.get(hashes[N - 1]!)).toBe(1);
    expect(ms).toBeLessThan(1000);
  });

  it('pages, filters and sorts on the server, saying how many match before paging', async () => {
    const { added } = await orders();
    const page = await list({ offset: 100, limit: 20 });
    expect(page.total).toBe(N);
    expect(page.torrents.map((t) => t.infoHash)).toEqual(added.slice(100, 120));
    // Files are there unless left out.
    expect(page.torrents[0]!.files).toHaveLength(1);

    const paused = await list({ filter: TorrentFilter.TORRENT_FILTER_PAUSED, limit: 5 });
    expect(paused.total).toBe(N / 10);
    expect(paused.torrents.every((t) => t.state === TorrentState.TORRENT_STATE_PAUSED)).toBe(true);
    expect((await list({ filter: TorrentFilter.TORRENT_FILTER_RUNNING, limit: 1 })).total).toBe(N - N / 10);

    const tv = await list({ category: 'tv', limit: 3 });
    expect(tv.total).toBe(N / 4);
    const inTv = new Set(hashes.filter((_, i) => i % 4 === 0));
    expect(tv.torrents.map((t) => t.infoHash)).toEqual(added.filter((h) => inTv.has(h)).slice(0, 3));
    expect((await list({ category: '', limit: 1 })).total).toBe(N - N / 4);

    const byName = await list({ sort: TorrentSort.TORRENT_SORT_NAME, reverse: true, limit: 2 });
    expect(byName.torrents.map((t) => t.name)).toEqual(['t09999.bin', 't09998.bin']);

    const some = await list({ hashes: { infoHashes: [hashes[7]!, hashes[3]!.toUpperCase(), 'ab'.repeat(20)] } });
    expect(some.torrents.map((t) => t.infoHash)).toEqual(added.filter((h) => h === hashes[3] || h === hashes[7]));
    expect(some.total).toBe(2);
  });

  it("the qBittorrent API's torrents/pause of 50 hashes reads the registry once, not once per hash", async () => {
    const ctx = {
      backend,
      auth: new WebAuth({}),
      dataDir: dir,
      version: 'test',
      log: silentLogger,
      now: Date.now,
      fetchTorrent: async () => {
        throw new Error('no fetching here');
      },
      freeSpace: async () => 0,
    };
    const web: WebServer = await startWebServer({ host: '127.0.0.1', port: 0, apis: [createQbittorrentApi(ctx)], log: silentLogger });
    try {
      const chosen = hashes.slice(1, 51);
      const before = reads.list;
      const r = await fetch(`http://127.0.0.1:${web.port}/api/v2/torrents/stop`, { method: 'POST', body: new URLSearchParams({ hashes: chosen.join('|') }) });
      expect(r.status).toBe(200);
      expect(reads.list - before).toBe(1);
      expect((await list({ hashes: { infoHashes: chosen }, filter: TorrentFilter.TORRENT_FILTER_PAUSED })).total).toBe(50);
    } finally {
      await web.close();
    }
  });

  it('WatchTorrents with changes_only: every torrent first, then only the one that changed and the one that went away', async () => {
    for (const h of hashes) stats.set(h);
    const stream = client.watchTorrents({ infoHashes: [], changesOnly: true });
    const got: WatchTorrentsResponse[] = [];
    stream.on('data', (m: WatchTorrentsResponse) => got.push(m));
    stream.on('error', () => {});
    const until = async (pred: () => boolean): Promise<void> => {
      const end = Date.now() + 10_000;
      while (!pred()) {
        if (Date.now() > end) throw new Error('timed out');
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(() => stats.watchers === 1);
    stats.tick();
    await until(() => got.length === 1);
    expect(got[0]).toMatchObject({ full: true, removed: [] });
    expect(got[0]!.stats).toHaveLength(N);
    // A tick where only the time moved sends nothing; then one torrent uploads and one goes away.
    for (const v of stats.views.values()) v.time = 2;
    stats.tick();
    stats.set(hashes[42]!, { uploadRate: 1000, peers: 1, time: 3 });
    stats.views.delete(hashes[43]!);
    stats.tick();
    await until(() => got.length === 2);
    expect(got[1]!.full).toBe(false);
    expect(got[1]!.stats.map((s) => [s.infoHash, s.uploadRate])).toEqual([[hashes[42], 1000]]);
    expect(got[1]!.removed).toEqual([hashes[43]]);
    stream.cancel();
    await until(() => stats.watchers === 0);
  });
});

describe('FleetBackend queue moves', () => {
  it('moving two neighbours up one place moves them together, in their order', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'seedbox-queue-moves-'));
    try {
      const backend = new FleetBackend({
        state: await LocalFleetStore.open(dir),
        stats: new TestStats(),
        trackers: { status: () => [], reannounce: async () => 0 },
        peers: { peers: async () => [], addPeers: async () => {} },
        deleteData: async () => {},
        dataDir: dir,
        fleet: { queued: () => false, totals: () => undefined, doneBytes: () => undefined, fileDone: () => undefined, done: () => undefined, pieces: () => undefined, metainfo: () => undefined },
      });
      // b's info hash sorts after c's, so a tie between their keys would put c first.
      const [x, y] = [torrentFile(1), torrentFile(2)].sort((p, q) => (parseMetainfo(p).infoHashHex < parseMetainfo(q).infoHashHex ? 1 : -1));
      const order = [torrentFile(0), x!, y!];
      const hex = order.map((f) => parseMetainfo(f).infoHashHex);
      for (const f of order) {
        await backend.add(f, { paused: false });
        // Keys are add times in ms: one apart at least.
        await new Promise((r) => setTimeout(r, 3));
      }
      await backend.moveInQueue([hex[1]!, hex[2]!], 'up');
      const positions = new Map((await backend.list()).map((r) => [r.infoHashHex, r.queuePosition]));
      expect([hex[1], hex[2], hex[0]].map((h) => positions.get(h!))).toEqual([1, 2, 3]);
      await backend.moveInQueue([hex[1]!, hex[2]!], 'down');
      const back = new Map((await backend.list()).map((r) => [r.infoHashHex, r.queuePosition]));
      expect(hex.map((h) => back.get(h))).toEqual([1, 2, 3]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
