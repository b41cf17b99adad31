import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Bitfield, parseInfoDictionary } from '@seedbox/protocol';
import type { PieceSink } from '@seedbox/cluster';
import { fetchMetadata, MetadataFetcher, MetadataFetchError, type MetadataFetcherOptions } from '../src/metadata-fetcher.js';
import { generatePeerId } from '../src/peer-id.js';
import { Engine } from '../src/engine.js';
import { memoryData } from './support/memory-data.js';
import { corrupt, makeInfoDict, startMetadataPeer, type MetadataPeer, type MetadataPeerOptions } from './support/metadata-peer.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function peer(o: MetadataPeerOptions): Promise<MetadataPeer> {
  const p = await startMetadataPeer(o);
  cleanups.push(() => p.close());
  return p;
}

/** A fetcher with short timers, so that reassignments happen within a test. */
function fetcher(o: Partial<MetadataFetcherOptions> & Pick<MetadataFetcherOptions, 'infoHash'>): MetadataFetcher {
  const f = new MetadataFetcher({ peerId: generatePeerId(), timeoutMs: 10_000, tickMs: 50, requestTimeoutMs: 500, rejectBackoffMs: 200, ...o });
  cleanups.push(() => f.stop());
  return f;
}

async function failure(p: Promise<unknown>): Promise<MetadataFetchError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof MetadataFetchError) return e;
    throw e;
  }
  throw new Error('the fetch succeeded');
}

const sha1hex = (b: Uint8Array): string => createHash('sha1').update(b).digest('hex');
const { bytes: INFO, infoHash } = makeInfoDict(5);

describe('MetadataFetcher', () => {
  it('fetches a five-piece info dictionary from one peer and checks its SHA-1', async () => {
    const p = await peer({ infoHash, metadata: INFO });
    const bytes = await fetchMetadata({ infoHash, peers: [p.address], peerId: generatePeerId(), timeoutMs: 10_000 });
    expect(sha1hex(bytes)).toBe(Buffer.from(infoHash).toString('hex'));
    expect(Buffer.from(bytes).equals(Buffer.from(INFO))).toBe(true);
    expect(p.stats.requests.sort()).toEqual([0, 1, 2, 3, 4]);
    // What it fetched is a torrent we can download.
    expect(parseInfoDictionary(bytes).name).toBe('magnet.bin');
  });

  it('spreads the pieces over the peers that have them', async () => {
    // Slow answers and one request per peer: all three are connected before the first piece is in.
    const peers = await Promise.all([0, 1, 2].map(() => peer({ infoHash, metadata: INFO, delayMs: 100 })));
    const f = fetcher({ infoHash, peers: peers.map((p) => p.address), requestsPerPeer: 1 });
    await f.start();
    const bytes = await f.result;
    expect(Buffer.from(bytes).equals(Buffer.from(INFO))).toBe(true);
    expect(peers.map((p) => p.stats.requests.length).reduce((a, b) => a + b)).toBe(5);
    expect(peers.filter((p) => p.stats.requests.length > 0).length).toBe(3);
  });

  it('asks another peer for a piece that one rejects', async () => {
    const rejecting = await peer({ infoHash, metadata: INFO, behaviour: 'reject' });
    const f = fetcher({ infoHash, peers: [rejecting.address] });
    await f.start();
    // Only the rejecting peer at first: it is asked, and rejects.
    while (rejecting.stats.rejected === 0) await new Promise((r) => setTimeout(r, 20));
    const good = await peer({ infoHash, metadata: INFO });
    f.addPeers([good.address]);
    expect(Buffer.from(await f.result).equals(Buffer.from(INFO))).toBe(true);
    expect(f.stats().rejects).toBeGreaterThan(0);
    expect(good.stats.served).toBeGreaterThan(0);
  });

  it('never accepts metadata whose SHA-1 is wrong, and bans the peer that sent it', async () => {
    const liar = await peer({ infoHash, metadata: corrupt(INFO, 3) });
    const f = fetcher({ infoHash, peers: [liar.address], timeoutMs: 1500 });
    const failed: (string | undefined)[] = [];
    f.on('hash-failed', (culprit) => failed.push(culprit));
    await f.start();
    const err = await failure(f.result);
    expect(err.code).toBe('METADATA_TIMEOUT');
    expect(err.stats.hashFailures).toBe(1);
    expect(err.stats.banned).toBe(1);
    expect(err.stats.closed['bad-data']).toBe(1);
    expect(failed).toEqual([`127.0.0.1:${liar.port}`]);
    expect(err.message).toMatch(/no metadata for [0-9a-f]{40} after 1\.5 s/);
    // Banned: never dialled again.
    expect(liar.stats.connections).toBe(1);
  });

  it('with a liar and an honest peer mixed, finds the metadata and the liar', async () => {
    // Slow answers, one request per peer: both contribute to the first attempt.
    const liar = await peer({ infoHash, metadata: corrupt(INFO, 'all'), delayMs: 30 });
    const honest = await peer({ infoHash, metadata: INFO, delayMs: 30 });
    const f = fetcher({ infoHash, peers: [liar.address, honest.address], requestsPerPeer: 1 });
    const culprits: (string | undefined)[] = [];
    f.on('hash-failed', (c) => culprits.push(c));
    await f.start();
    expect(Buffer.from(await f.result).equals(Buffer.from(INFO))).toBe(true);
    // The mixed attempt failed without a culprit; the next ones took every
    // piece from one peer, so only the liar can have been named.
    expect(liar.stats.served).toBeGreaterThan(0);
    expect(culprits.length).toBeGreaterThanOrEqual(1);
    expect(culprits[0]).toBeUndefined();
    for (const c of culprits.slice(1)) expect(c).toBe(`127.0.0.1:${liar.port}`);
    expect(f.stats().banned).toBe(culprits.length - 1);
  });

  it('prefers the metadata_size most peers advertise, and bans a lone liar about it', async () => {
    const wrongSize = corrupt(new Uint8Array([...INFO, 1, 2, 3]));
    const liar = await peer({ infoHash, metadata: wrongSize });
    const honest = await Promise.all([0, 1].map(() => peer({ infoHash, metadata: INFO })));
    const f = fetcher({ infoHash, peers: [liar.address] });
    await f.start();
    // The liar alone: its size is the only one, and its dictionary fails.
    await new Promise<void>((resolve) => f.once('hash-failed', () => resolve()));
    f.addPeers(honest.map((p) => p.address));
    expect(Buffer.from(await f.result).equals(Buffer.from(INFO))).toBe(true);
    expect(f.stats().banned).toBe(1);
  });

  it('re-asks another peer when a request times out', async () => {
    const silent = await peer({ infoHash, metadata: INFO, behaviour: 'silent' });
    const good = await peer({ infoHash, metadata: INFO });
    const f = fetcher({ infoHash, peers: [silent.address], requestTimeoutMs: 200 });
    await f.start();
    while (silent.stats.requests.length === 0) await new Promise((r) => setTimeout(r, 20));
    f.addPeers([good.address]);
    expect(Buffer.from(await f.result).equals(Buffer.from(INFO))).toBe(true);
    expect(f.stats().requestTimeouts).toBeGreaterThan(0);
  });

  it('ends with a typed timeout error when nobody answers', async () => {
    const silent = await peer({ infoHash, metadata: INFO, behaviour: 'silent' });
    const err = await failure(fetchMetadata({ infoHash, peers: [silent.address], peerId: generatePeerId(), timeoutMs: 800, tickMs: 50 }));
    expect(err).toBeInstanceOf(MetadataFetchError);
    expect(err.code).toBe('METADATA_TIMEOUT');
    expect(err.infoHashHex).toBe(Buffer.from(infoHash).toString('hex'));
  });

  it('drops peers without ut_metadata, and refuses a metadata_size over the bound', async () => {
    const noExt = await peer({ infoHash, metadata: INFO, behaviour: 'no-extension' });
    const noUt = await peer({ infoHash, metadata: INFO, behaviour: 'no-ut-metadata' });
    const huge = await peer({ infoHash, metadata: INFO, advertisedSize: 64 * 1024 * 1024 });
    const f = fetcher({ infoHash, peers: [noExt.address, noUt.address, huge.address], timeoutMs: 800, extensionTimeoutMs: 300 });
    await f.start();
    const err = await failure(f.result);
    expect(err.stats.closed['not-useful']).toBe(3);
    // Nothing was allocated for, or asked of, the peer claiming 64 MiB.
    expect(huge.stats.requests).toEqual([]);
    expect(err.stats.metadataSize).toBeUndefined();
  });

  it('stop() ends a fetch under way with METADATA_STOPPED', async () => {
    const f = fetcher({ infoHash });
    await f.start();
    await f.stop();
    expect((await failure(f.result)).code).toBe('METADATA_STOPPED');
  });
});

describe('serving ut_metadata from our own torrents', () => {
  const sink: PieceSink = { writePiece: () => Promise.reject(new Error('a seed writes nothing')) };

  /** A worker with the torrent: a seed, or (`complete` false) a leech that has the metadata but no pieces. */
  async function seedWorker(meta = parseInfoDictionary(INFO), complete = true) {
    const worker = new Engine({ sink, listen: { host: '127.0.0.1', port: 0 }, tickMs: 100 });
    await worker.start();
    cleanups.push(() => worker.stop());
    const have = complete ? Bitfield.full(meta.pieceCount) : new Bitfield(meta.pieceCount);
    const torrent = worker.add(meta, { data: memoryData(meta.pieceCount, { have, read: () => Promise.reject(new Error('no reads')) }) });
    await new Promise<void>((resolve) => torrent.once('checked', () => resolve()));
    return { worker, torrent };
  }

  it('a seed gives its info dictionary to a fetcher that dials it', async () => {
    const { worker } = await seedWorker();
    const bytes = await fetchMetadata({ infoHash, peers: [{ host: '127.0.0.1', port: worker.listenPort! }], peerId: generatePeerId(), timeoutMs: 10_000 });
    expect(Buffer.from(bytes).equals(Buffer.from(INFO))).toBe(true);
  });

  it('a leech with the metadata that dials a listening fetcher gives it the info dictionary', async () => {
    // (Seeds do not dial; a leech that found us through a tracker does.)
    const f = fetcher({ infoHash, listen: { host: '127.0.0.1', port: 0 } });
    await f.start();
    const { torrent } = await seedWorker(undefined, false);
    torrent.addPeers([{ host: '127.0.0.1', port: f.listenPort! }]);
    expect(Buffer.from(await f.result).equals(Buffer.from(INFO))).toBe(true);
  });

  it('a private torrent rejects: BEP 27 metadata stays with the .torrent', async () => {
    const meta = { ...parseInfoDictionary(INFO), private: true };
    const { worker } = await seedWorker(meta);
    const f = fetcher({ infoHash, peers: [{ host: '127.0.0.1', port: worker.listenPort! }], timeoutMs: 800, extensionTimeoutMs: 200 });
    await f.start();
    const err = await failure(f.result);
    // No metadata_size is advertised, so it is never asked, and is dropped as not useful.
    expect(err.stats.closed['not-useful']).toBeGreaterThan(0);
    expect(err.stats.piecesReceived).toBe(0);
  });
});
