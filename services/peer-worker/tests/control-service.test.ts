/**
 * The gRPC control API over a real grpc-js server on 127.0.0.1 (port 0) and
 * the generated client, with an in-memory backend: what a client sends and
 * what status it gets back, watch streams included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Server, ServerCredentials, status, type ClientReadableStream, type ServiceError } from '@grpc/grpc-js';
import { call, callError } from './support/grpc-call.js';
import { parseMetainfo, type MetainfoError } from '@seedbox/protocol';
import {
  AddTorrentRequest,
  SeedboxControlClient,
  SeedboxControlService,
  FilePriority,
  ShareLimitReached,
  TorrentState,
  type AddTorrentResponse,
  type Torrent,
  type WatchTorrentsResponse,
} from '@seedbox/proto';
import { createControlService, type ControlServiceOptions } from '../src/control/control-service.js';
import { ControlError, type ControlBackend } from '../src/control/backend.js';
import { MemoryControlBackend } from '../../../test/support/memory-control-backend.js';

const fixtures = join(import.meta.dirname, '../../../test/fixtures/torrents');
const fixture = (name: string): Buffer => readFileSync(join(fixtures, name));
const SINGLE = fixture('mktorrent-single.torrent');
const SINGLE_HASH = parseMetainfo(SINGLE).infoHashHex;
const MULTI = fixture('mktorrent-multi.torrent');
const MULTI_HASH = parseMetainfo(MULTI).infoHashHex;
const UNKNOWN_HASH = '0123456789abcdef0123456789abcdef01234567';

interface Running {
  client: SeedboxControlClient;
  close(): Promise<void>;
}

async function startService(backend: ControlBackend, options?: ControlServiceOptions): Promise<Running> {
  const server = new Server();
  server.addService(SeedboxControlService, createControlService(backend, options));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  const client = new SeedboxControlClient(`127.0.0.1:${port}`, credentials.createInsecure());
  return {
    client,
    close: async () => {
      client.close();
      server.forceShutdown();
    },
  };
}

function api(client: SeedboxControlClient) {
  return {
    add: (r: Partial<AddTorrentRequest>) => call<AddTorrentRequest, AddTorrentResponse>(client.addTorrent.bind(client), AddTorrentRequest.fromPartial(r)),
    list: () => call(client.listTorrents.bind(client), {}).then((r) => r.torrents),
    get: (infoHash: string) => call(client.getTorrent.bind(client), { infoHash }).then((r) => r.torrent as Torrent),
    remove: (infoHash: string, deleteData = false) => call(client.removeTorrent.bind(client), { infoHash, deleteData }),
    pause: (infoHash: string) => call(client.pauseTorrent.bind(client), { infoHash }),
    resume: (infoHash: string) => call(client.resumeTorrent.bind(client), { infoHash }),
  };
}

/** The next `n` messages of a stream; rejects if it ends or fails first. */
function take(stream: ClientReadableStream<WatchTorrentsResponse>, n: number): Promise<WatchTorrentsResponse[]> {
  return new Promise((resolve, reject) => {
    const got: WatchTorrentsResponse[] = [];
    const onData = (m: WatchTorrentsResponse): void => {
      got.push(m);
      if (got.length === n) {
        cleanup();
        resolve(got);
      }
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const onEnd = (): void => {
      cleanup();
      reject(new Error(`the stream ended after ${got.length} of ${n} messages`));
    };
    const cleanup = (): void => {
      stream.off('data', onData).off('error', onError).off('end', onEnd);
    };
    stream.on('data', onData).on('error', onError).on('end', onEnd);
  });
}

function streamError(stream: ClientReadableStream<WatchTorrentsResponse>): Promise<ServiceError> {
  return new Promise((resolve, reject) => {
    stream.on('data', () => {});
    stream.on('error', (e) => resolve(e as ServiceError));
    stream.on('end', () => reject(new Error('the stream ended without an error')));
  });
}

/** Cancels a watch; the client then sees a CANCELLED error, which is expected. */
function cancel(stream: ClientReadableStream<WatchTorrentsResponse>): void {
  stream.on('error', () => {});
  stream.cancel();
}

async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('control service', () => {
  const backend = new MemoryControlBackend();
  let running: Running;
  let c: ReturnType<typeof api>;

  beforeAll(async () => {
    running = await startService(backend);
    c = api(running.client);
  });
  afterAll(() => running.close());

  describe('AddTorrent', () => {
    it('adds a torrent file and answers the Torrent', async () => {
      const before = Math.floor(Date.now() / 1000);
      const r = await c.add({ torrentFile: SINGLE });
      expect(r.created).toBe(true);
      const meta = parseMetainfo(SINGLE);
      expect(r.torrent).toEqual({
        infoHash: SINGLE_HASH,
        name: 'single.bin',
        state: TorrentState.TORRENT_STATE_DOWNLOADING,
        totalLength: meta.totalLength,
        pieceLength: meta.pieceLength,
        pieceCount: meta.pieceCount,
        private: false,
        files: [{ path: 'single.bin', length: meta.totalLength, priority: FilePriority.FILE_PRIORITY_NORMAL, bytesDone: undefined }],
        stats: undefined,
        error: '',
        addedAt: expect.any(Number),
        category: '',
        tags: [],
        savePath: `${backend.dataDir}/${SINGLE_HASH}`,
        downloadLimit: 0,
        uploadLimit: 0,
        ratioLimit: -2,
        seedingTimeLimit: -2,
        inactiveSeedingTimeLimit: -2,
        queuePosition: 1,
        forceStart: false,
        sequential: false,
        firstLastPiece: false,
        limitReached: ShareLimitReached.SHARE_LIMIT_REACHED_NONE,
        movingTo: '',
        moveErrorTo: '',
        moveError: '',
        ratio: 0,
        seedingSeconds: 0,
        activeSeconds: 0,
        uploadedTotal: 0,
        downloadedTotal: 0,
      });
      expect(r.torrent?.addedAt).toBeGreaterThanOrEqual(before);
      expect(r.torrent?.addedAt).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    });

    it('adding the same torrent again answers the existing one with created false', async () => {
      const first = backend.records.get(SINGLE_HASH);
      const r = await c.add({ torrentFile: SINGLE, paused: true });
      expect(r.created).toBe(false);
      // Unchanged: the second add's `paused` does not touch the existing torrent.
      expect(r.torrent?.state).toBe(TorrentState.TORRENT_STATE_DOWNLOADING);
      expect(backend.records.get(SINGLE_HASH)).toBe(first);
      expect(backend.records.size).toBe(1);
    });

    it('adds paused, with multi-file paths joined by "/"', async () => {
      const r = await c.add({ torrentFile: MULTI, paused: true });
      expect(r.created).toBe(true);
      expect(r.torrent?.state).toBe(TorrentState.TORRENT_STATE_PAUSED);
      const meta = parseMetainfo(MULTI);
      expect(r.torrent?.files).toEqual(meta.files.map((f) => ({ path: f.path.join('/'), length: f.length, priority: FilePriority.FILE_PRIORITY_NORMAL, bytesDone: undefined })));
      expect(r.torrent?.files.some((f) => f.path.includes('/'))).toBe(true);
    });

    it('leaves out BEP 47 padding files and carries the private flag', async () => {
      const padded = await c.add({ torrentFile: fixture('libtorrent-padded.torrent') });
      const meta = parseMetainfo(fixture('libtorrent-padded.torrent'));
      expect(padded.torrent?.files).toHaveLength(meta.files.filter((f) => !f.padding).length);
      expect(padded.torrent?.files.length).toBeLessThan(meta.files.length);
      const priv = await c.add({ torrentFile: fixture('mktorrent-private.torrent') });
      expect(priv.torrent?.private).toBe(true);
      await c.remove(padded.torrent!.infoHash);
      await c.remove(priv.torrent!.infoHash);
    });

    it('refuses malformed torrent bytes with INVALID_ARGUMENT naming the metainfo rule', async () => {
      const bad = Buffer.from('d4:infoi1ee');
      let rule = '';
      try {
        parseMetainfo(bad);
      } catch (e) {
        rule = (e as MetainfoError).message;
      }
      expect(rule).not.toBe('');
      const err = await callError(running.client.addTorrent.bind(running.client), AddTorrentRequest.fromPartial({ torrentFile: bad }));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toContain(rule);
    });

    it('refuses a request with neither torrent_file nor magnet_uri', async () => {
      const err = await callError(running.client.addTorrent.bind(running.client), AddTorrentRequest.fromPartial({}));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/torrent_file.*magnet_uri/);
    });

    it('refuses a magnet URI with nowhere to fetch its metadata from: the backend\'s INVALID_ARGUMENT', async () => {
      const err = await callError(running.client.addTorrent.bind(running.client), AddTorrentRequest.fromPartial({ magnetUri: `magnet:?xt=urn:btih:${UNKNOWN_HASH}` }));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/^nowhere to fetch the metadata of/);
    });
  });

  describe('AddTorrent with a magnet URI', () => {
    const magnets = new MemoryControlBackend();
    let m: ReturnType<typeof api>;
    let closeMagnets: () => Promise<void>;
    const link = (hex: string, extra = ''): string => `magnet:?xt=urn:btih:${hex}&dn=From%20Link&tr=${encodeURIComponent('http://t.example/announce')}${extra}`;

    beforeAll(async () => {
      const r = await startService(magnets, { magnetWaitMs: 400 });
      m = api(r.client);
      closeMagnets = r.close;
    });
    afterAll(() => closeMagnets());

    it('registers the magnet at once (GetTorrent shows it in state METADATA) and answers once the fleet has its metadata', async () => {
      const answer = m.add({ magnetUri: link(SINGLE_HASH) });
      await until(() => magnets.records.has(SINGLE_HASH), 'the magnet registered');
      expect(await m.get(SINGLE_HASH)).toMatchObject({ infoHash: SINGLE_HASH, name: 'From Link', state: TorrentState.TORRENT_STATE_METADATA, totalLength: 0, pieceCount: 0, files: [], error: '' });
      magnets.resolveMagnet(SINGLE_HASH, SINGLE);
      const r = await answer;
      expect(r.created).toBe(true);
      expect(r.torrent).toMatchObject({ infoHash: SINGLE_HASH, name: 'single.bin', state: TorrentState.TORRENT_STATE_DOWNLOADING, totalLength: parseMetainfo(SINGLE).totalLength });
    });

    it('at the deadline answers the torrent still in state METADATA, with why the last attempt failed, and keeps it', async () => {
      const answer = m.add({ magnetUri: link(MULTI_HASH) });
      await until(() => magnets.records.has(MULTI_HASH), 'the magnet registered');
      magnets.failMetadata(MULTI_HASH, 'no peer gave the metadata');
      const r = await answer;
      expect(r).toMatchObject({ created: true, torrent: { infoHash: MULTI_HASH, state: TorrentState.TORRENT_STATE_METADATA, error: 'no peer gave the metadata' } });
      expect(magnets.records.get(MULTI_HASH)?.magnet).toBeDefined();
    });

    it('answers a paused magnet at once, and a removal while waiting with NOT_FOUND', async () => {
      const paused = await m.add({ magnetUri: link(UNKNOWN_HASH), paused: true });
      expect(paused).toMatchObject({ created: true, torrent: { state: TorrentState.TORRENT_STATE_PAUSED, name: 'From Link' } });
      await m.remove(UNKNOWN_HASH);
      const other = 'fe'.repeat(20);
      const pending = m.add({ magnetUri: link(other) }).then(
        () => undefined,
        (e: unknown) => e as ServiceError,
      );
      await until(() => magnets.records.has(other), 'the magnet registered');
      await m.remove(other);
      expect((await pending)?.code).toBe(status.NOT_FOUND);
    });
  });

  describe('ListTorrents and GetTorrent', () => {
    it('lists every torrent, oldest first', async () => {
      const list = await c.list();
      expect(list.map((t) => t.infoHash)).toEqual([SINGLE_HASH, MULTI_HASH]);
    });

    it('gets one torrent, taking the info hash in any case and answering lower case', async () => {
      const t = await c.get(MULTI_HASH.toUpperCase());
      expect(t.infoHash).toBe(MULTI_HASH);
      expect(t.name).toBe('tree');
    });

    it('answers NOT_FOUND for an unknown torrent', async () => {
      const err = await callError(running.client.getTorrent.bind(running.client), { infoHash: UNKNOWN_HASH });
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toBe(`no torrent ${UNKNOWN_HASH}`);
    });

    it.each(['', 'xyz', UNKNOWN_HASH.slice(1), `${UNKNOWN_HASH}0`, `g${UNKNOWN_HASH.slice(1)}`])(
      'answers INVALID_ARGUMENT for the info hash %j on every call that takes one',
      async (infoHash) => {
        const client = running.client;
        for (const err of [
          await callError(client.getTorrent.bind(client), { infoHash }),
          await callError(client.removeTorrent.bind(client), { infoHash, deleteData: false }),
          await callError(client.pauseTorrent.bind(client), { infoHash }),
          await callError(client.resumeTorrent.bind(client), { infoHash }),
        ]) {
          expect(err.code).toBe(status.INVALID_ARGUMENT);
          expect(err.details).toMatch(/^info_hash must be 40 hexadecimal characters/);
        }
      },
    );

    it('maps the fleet figures into stats and state', async () => {
      backend.setStats(SINGLE_HASH, { downloadRate: 1234.6, uploadRate: 0.4, downloaded: 5000, peers: 3, seeds: 1, left: 60537, eta: 48.7, time: 1_700_000_000_123 });
      const t = await c.get(SINGLE_HASH);
      expect(t.state).toBe(TorrentState.TORRENT_STATE_DOWNLOADING);
      expect(t.stats).toMatchObject({ infoHash: SINGLE_HASH, downloadRate: 1235, uploadRate: 0, downloadedBytes: 5000, peers: 3, seeds: 1, leftBytes: 60537, etaSeconds: 49, tickTimeMs: 1_700_000_000_123 });

      backend.setStats(SINGLE_HASH, { eta: undefined });
      expect((await c.get(SINGLE_HASH)).stats?.etaSeconds).toBe(0);

      backend.setStats(SINGLE_HASH, { complete: true, left: 0 });
      expect((await c.get(SINGLE_HASH)).state).toBe(TorrentState.TORRENT_STATE_SEEDING);

      backend.records.get(SINGLE_HASH)!.error = 'cannot create single.bin: EACCES';
      const failed = await c.get(SINGLE_HASH);
      expect(failed.state).toBe(TorrentState.TORRENT_STATE_ERROR);
      expect(failed.error).toBe('cannot create single.bin: EACCES');
      delete backend.records.get(SINGLE_HASH)!.error;
      backend.figures.delete(SINGLE_HASH);
    });
  });

  describe('PauseTorrent and ResumeTorrent', () => {
    it('pause and resume change the desired state', async () => {
      await c.pause(SINGLE_HASH);
      expect(backend.records.get(SINGLE_HASH)?.desired).toBe('paused');
      expect((await c.get(SINGLE_HASH)).state).toBe(TorrentState.TORRENT_STATE_PAUSED);
      await c.resume(SINGLE_HASH.toUpperCase());
      expect(backend.records.get(SINGLE_HASH)?.desired).toBe('running');
      expect((await c.get(SINGLE_HASH)).state).toBe(TorrentState.TORRENT_STATE_DOWNLOADING);
    });

    it('answer NOT_FOUND for an unknown torrent', async () => {
      expect((await callError(running.client.pauseTorrent.bind(running.client), { infoHash: UNKNOWN_HASH })).code).toBe(status.NOT_FOUND);
      expect((await callError(running.client.resumeTorrent.bind(running.client), { infoHash: UNKNOWN_HASH })).code).toBe(status.NOT_FOUND);
    });
  });

  describe('WatchTorrents', () => {
    it('sends one message per tick with every torrent the tick has', async () => {
      await c.resume(MULTI_HASH);
      const stream = running.client.watchTorrents({ infoHashes: [] });
      await until(() => backend.listeners.size === 1, 'the watch to subscribe');
      const messages = take(stream, 2);
      backend.setStats(MULTI_HASH, { downloadRate: 100, peers: 2 });
      backend.tick(1000);
      backend.tick(2000);
      const [a, b] = await messages;
      expect(a?.stats.map((s) => s.infoHash).sort()).toEqual([SINGLE_HASH, MULTI_HASH].sort());
      expect(a?.stats.find((s) => s.infoHash === MULTI_HASH)).toMatchObject({ downloadRate: 100, peers: 2, tickTimeMs: 1000 });
      expect(b?.stats[0]?.tickTimeMs).toBe(2000);
      cancel(stream);
      await until(() => backend.listeners.size === 0, 'the cancelled watch to unsubscribe');
    });

    it('filters to the info hashes asked for, in any case', async () => {
      const stream = running.client.watchTorrents({ infoHashes: [MULTI_HASH.toUpperCase()] });
      await until(() => backend.listeners.size === 1, 'the watch to subscribe');
      const messages = take(stream, 1);
      backend.tick();
      const [m] = await messages;
      expect(m?.stats.map((s) => s.infoHash)).toEqual([MULTI_HASH]);
      cancel(stream);
      await until(() => backend.listeners.size === 0, 'the cancelled watch to unsubscribe');
    });

    it('still sends a message on a tick without the torrents asked for', async () => {
      const stream = running.client.watchTorrents({ infoHashes: [UNKNOWN_HASH] });
      await until(() => backend.listeners.size === 1, 'the watch to subscribe');
      const messages = take(stream, 1);
      backend.tick();
      expect((await messages)[0]?.stats).toEqual([]);
      cancel(stream);
      await until(() => backend.listeners.size === 0, 'the cancelled watch to unsubscribe');
    });

    it('refuses a bad info hash with INVALID_ARGUMENT and never subscribes', async () => {
      const err = await streamError(running.client.watchTorrents({ infoHashes: [MULTI_HASH, 'nope'] }));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/^info_hashes\[1\] must be 40 hexadecimal characters/);
      expect(backend.listeners.size).toBe(0);
    });

    it('unsubscribes when the call ends on its deadline', async () => {
      const stream = running.client.watchTorrents({ infoHashes: [] }, { deadline: Date.now() + 300 });
      const err = streamError(stream);
      await until(() => backend.listeners.size === 1, 'the watch to subscribe');
      expect((await err).code).toBe(status.DEADLINE_EXCEEDED);
      await until(() => backend.listeners.size === 0, 'the expired watch to unsubscribe');
    });

    it('unsubscribes when the server shuts down', async () => {
      const other = await startService(backend);
      const err = streamError(other.client.watchTorrents({ infoHashes: [] }));
      await until(() => backend.listeners.size === 1, 'the watch to subscribe');
      await other.close();
      await err;
      await until(() => backend.listeners.size === 0, 'the watch to unsubscribe at shutdown');
    });
  });

  describe('RemoveTorrent', () => {
    it('removes, passing delete_data on, then answers NOT_FOUND', async () => {
      await c.remove(MULTI_HASH.toUpperCase(), true);
      expect(backend.removed.at(-1)).toEqual({ infoHashHex: MULTI_HASH, deleteData: true });
      expect((await c.list()).map((t) => t.infoHash)).toEqual([SINGLE_HASH]);
      const err = await callError(running.client.removeTorrent.bind(running.client), { infoHash: MULTI_HASH, deleteData: false });
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toBe(`no torrent ${MULTI_HASH}`);
    });
  });
});

describe('control service failures', () => {
  it('ends a watch with UNAVAILABLE when the backend stops ticking', async () => {
    const backend = new MemoryControlBackend();
    const running = await startService(backend, { tickTimeoutMs: 300 });
    try {
      const stream = running.client.watchTorrents({ infoHashes: [] });
      const first = take(stream, 1);
      await until(() => backend.listeners.size === 1, 'the watch to subscribe');
      backend.tick();
      await first;
      const err = await streamError(stream);
      expect(err.code).toBe(status.UNAVAILABLE);
      expect(err.details).toMatch(/no statistics from the fleet for 300 ms/);
      expect(backend.listeners.size).toBe(0);
    } finally {
      await running.close();
    }
  });

  it('refuses a negative tick timeout', () => {
    expect(() => createControlService(new MemoryControlBackend(), { tickTimeoutMs: -1 })).toThrow(RangeError);
  });

  it('answers INTERNAL with the message when the backend throws a plain Error, and keeps serving', async () => {
    const backend = new MemoryControlBackend();
    const internal: [string, unknown][] = [];
    const broken = Object.assign(Object.create(backend) as MemoryControlBackend, {
      list: async () => {
        throw new Error('bucket torrents: stream not found');
      },
      get: () => {
        // Not even async: a synchronous throw must be caught too.
        throw new Error('sync failure');
      },
      onTick: () => {
        throw new TypeError('no tick feed');
      },
    });
    const running = await startService(broken, { onInternalError: (method, e) => internal.push([method, e]) });
    try {
      const c = api(running.client);
      const err = await callError(running.client.listTorrents.bind(running.client), {});
      expect(err.code).toBe(status.INTERNAL);
      expect(err.details).toBe('bucket torrents: stream not found');
      const sync = await callError(running.client.getTorrent.bind(running.client), { infoHash: UNKNOWN_HASH });
      expect(sync.code).toBe(status.INTERNAL);
      expect(sync.details).toBe('sync failure');
      const watch = await streamError(running.client.watchTorrents({ infoHashes: [] }));
      expect(watch.code).toBe(status.INTERNAL);
      expect(watch.details).toBe('no tick feed');
      expect(internal.map(([m]) => m)).toEqual(['ListTorrents', 'GetTorrent', 'WatchTorrents']);
      // Still serving: the methods that work still answer.
      expect((await c.add({ torrentFile: SINGLE })).created).toBe(true);
    } finally {
      await running.close();
    }
  });

  it('keeps a refusal’s code: ALREADY_EXISTS and UNAVAILABLE from the backend', async () => {
    const backend = new MemoryControlBackend();
    const refusing = Object.assign(Object.create(backend) as MemoryControlBackend, {
      add: async () => {
        throw new ControlError('already-exists', 'a torrent with that name is already being added');
      },
      list: async () => {
        throw new ControlError('unavailable', 'the torrent registry is unavailable (no NATS connection)');
      },
    });
    const running = await startService(refusing);
    try {
      const add = await callError(running.client.addTorrent.bind(running.client), AddTorrentRequest.fromPartial({ torrentFile: SINGLE }));
      expect(add.code).toBe(status.ALREADY_EXISTS);
      const list = await callError(running.client.listTorrents.bind(running.client), {});
      expect(list.code).toBe(status.UNAVAILABLE);
      expect(list.details).toBe('the torrent registry is unavailable (no NATS connection)');
    } finally {
      await running.close();
    }
  });
});
