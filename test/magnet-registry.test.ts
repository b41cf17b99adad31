/**
 * A magnet link is a registry entry from the moment it is added, and the
 * fleet fetches its metadata (BEP 9), as qBittorrent and Transmission keep
 * a magnet torrent "downloading metadata":
 *
 * - `seedbox serve`: the Transmission RPC's torrent-add answers at once
 *   with the torrent's id while no peer has it; torrent-get lists it with
 *   metadataPercentComplete 0. serve is killed (-9) and started again on
 *   the same state folder; the magnet is still there, under the same id,
 *   and once a libtorrent seed comes up it resolves and downloads.
 * - a fleet of two peer-workers over NATS: a magnet added through one
 *   worker's qBittorrent API is listed as metaDL by the other's, then
 *   resolves and downloads; and a magnet whose only peer-worker is
 *   killed is taken up by its replacement from JetStream.
 *
 * Both links carry the seed's address (x.pe) beside the tracker, so the
 * owner dials the seed as soon as it listens, whatever the tracker's
 * announce interval. Every download is compared byte for byte.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { startFleet, startService } from './support/fleet.js';
import { startNatsServer } from './support/nats.js';
import { startLibtorrentSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, waitFor } from './support/processes.js';
import { logLines, startServe } from './support/serve.js';
import { needTools, tools } from './support/tools.js';
import { TransmissionRpc } from './support/web-clients.js';
import { startOpentracker } from './support/tracker.js';

const need = needTools(tools.libtorrent, tools.mktorrent, tools.opentracker);
const needNats = needTools(tools.natsServer);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

const magnetOf = (t: TestTorrent, tracker: string, seedPort: number): string =>
  `magnet:?xt=urn:btih:${t.infoHash}&dn=${encodeURIComponent(t.name)}&tr=${encodeURIComponent(tracker)}&x.pe=127.0.0.1:${seedPort}`;

describe.skipIf(!need.available)('magnets in the registry', () => {
  let work: string;
  let trackerPort: number;
  const t: TestTorrent[] = [];

  beforeAll(async () => {
    work = makeTempDir('magnet-registry');
    trackerPort = await freePort();
    const announce = `http://127.0.0.1:${trackerPort}/announce`;
    for (let i = 0; i < 2; i++) t.push(await makeTorrent({ dir: join(work, 'src'), name: `m${i}.bin`, pieceLength: 32 * 1024, tracker: announce, files: { size: 1_500_000 + i * 5003 } }));
  }, 120_000);

  it('seedbox serve: torrent-add answers at once with an id; the magnet outlives a kill -9 and resolves after the restart, byte-identical', async () => {
    const x = t[0]!;
    const tracker = await startOpentracker({ infoHashes: [x.infoHash], port: trackerPort });
    const seedPort = await freePort();
    const data = join(work, 'serve', 'data');
    mkdirSync(data, { recursive: true });
    let s = await startServe(data);
    let rpc = new TransmissionRpc(`http://127.0.0.1:${s.webPort}/transmission/rpc`);

    const started = Date.now();
    const added = await rpc.call('torrent-add', { filename: magnetOf(x, tracker.announceUrl, seedPort) });
    // Transmission answers at once; @ctrl/transmission gives up after 5 s.
    expect(Date.now() - started).toBeLessThan(3000);
    expect(added.result).toBe('success');
    const info = added.arguments['torrent-added'] as { id: number; name: string; hashString: string };
    expect(info).toEqual({ id: expect.any(Number), name: x.name, hashString: x.infoHash });
    const fields = ['id', 'name', 'status', 'metadataPercentComplete', 'totalSize', 'percentDone', 'files'];
    expect(await rpc.torrent(x.infoHash, fields)).toEqual({ id: info.id, name: x.name, status: 4, metadataPercentComplete: 0, totalSize: 0, percentDone: 0, files: [] });

    // A crash, not a shutdown: nothing gets to save anything more.
    process.kill(s.process.pid, 'SIGKILL');
    await s.process.exited;
    s = await startServe(data, [], 'serve-again');
    rpc = new TransmissionRpc(`http://127.0.0.1:${s.webPort}/transmission/rpc`);
    expect(await rpc.torrent(x.infoHash, ['id', 'name', 'metadataPercentComplete'])).toEqual({ id: info.id, name: x.name, metadataPercentComplete: 0 });

    await startLibtorrentSeed({ torrentPath: x.torrentPath, dataRoot: x.dataRoot, port: seedPort });
    await waitFor(async () => (await rpc.torrent(x.infoHash, ['metadataPercentComplete']))?.metadataPercentComplete === 1, 60_000, 'the metadata in', { intervalMs: 250 });
    await waitFor(async () => (await rpc.torrent(x.infoHash, ['leftUntilDone', 'totalSize']))?.totalSize === x.totalSize && (await rpc.torrent(x.infoHash, ['leftUntilDone']))?.leftUntilDone === 0, 60_000, 'the download complete', { intervalMs: 250 });
    expect(await rpc.torrent(x.infoHash, ['id', 'name', 'totalSize', 'percentDone'])).toEqual({ id: info.id, name: x.name, totalSize: x.totalSize, percentDone: 1 });
    expect(await compareTrees(x.contentPath, join(data, x.infoHash, x.name))).toBeNull();
    // The restarted process took the magnet up from its state folder and fetched the metadata itself.
    expect(logLines(s.process, 'magnet metadata in')).toEqual([expect.objectContaining({ infoHash: x.infoHash, written: true })]);
    await s.stop();
  }, 180_000);

  describe.skipIf(!needNats.available)('a fleet', () => {
    it('a magnet added on one peer-worker is metaDL on the other, then resolves and downloads byte-identical', async () => {
      const x = t[1]!;
      const nats = await startNatsServer();
      const tracker = await startOpentracker({ infoHashes: [x.infoHash], port: trackerPort });
      const seedPort = await freePort();
      const fleet = await startFleet({ natsUrl: nats.url, peerWorkers: 2 });
      try {
        const [one, two] = fleet.peerWorkers;
        const form = new URLSearchParams({ urls: magnetOf(x, tracker.announceUrl, seedPort), category: 'tv' });
        const add = await fetch(`http://127.0.0.1:${one!.webPort}/api/v2/torrents/add`, { method: 'POST', body: form });
        expect(await add.text()).toBe('Ok.');
        const info = async (): Promise<Record<string, unknown> | undefined> =>
          ((await (await fetch(`http://127.0.0.1:${two!.webPort}/api/v2/torrents/info?hashes=${x.infoHash}`)).json()) as Record<string, unknown>[])[0];
        // The other replica lists it from the shared registry, no seed running yet.
        expect(await info()).toMatchObject({ hash: x.infoHash, name: x.name, state: 'metaDL', has_metadata: false, category: 'tv', size: 0 });

        await startLibtorrentSeed({ torrentPath: x.torrentPath, dataRoot: x.dataRoot, port: seedPort });
        await waitFor(async () => (await info())?.has_metadata === true, 60_000, 'the metadata in, seen on the other replica', { intervalMs: 250 });
        await waitFor(async () => (await info())?.progress === 1, 60_000, 'the download complete, seen on the other replica', { intervalMs: 250 });
        const done = (await info())!;
        expect(done).toMatchObject({ name: x.name, size: x.totalSize, category: 'tv' });
        // A category made on add has no folder of its own: the data folder, as qBittorrent's default save path.
        expect(done.content_path).toBe(join(fleet.dataDir, x.name));
        expect(await compareTrees(x.contentPath, join(fleet.dataDir, x.name))).toBeNull();
        // One worker wrote it: the owner (both may have fetched it while the membership settled; the first write wins).
        const wrote = fleet.peerWorkers.filter((p) => /"msg":"magnet metadata in".*"written":true/.test(p.process.text()));
        expect(wrote).toHaveLength(1);
      } finally {
        await fleet.stop();
      }
    }, 180_000);

    it('a magnet outlives its peer-worker: killed (-9) and replaced, the new one takes the entry up from JetStream and resolves it', async () => {
      const x = t[0]!;
      const nats = await startNatsServer();
      const tracker = await startOpentracker({ infoHashes: [x.infoHash], port: trackerPort });
      const seedPort = await freePort();
      const fleet = await startFleet({ natsUrl: nats.url, peerWorkers: 1 });
      try {
        const old = fleet.peerWorkers[0]!;
        const rpc = new TransmissionRpc(`http://127.0.0.1:${old.webPort}/transmission/rpc`);
        const added = await rpc.call('torrent-add', { filename: magnetOf(x, tracker.announceUrl, seedPort), paused: false });
        const id = (added.arguments['torrent-added'] as { id: number }).id;
        process.kill(old.process.pid, 'SIGKILL');
        await old.process.exited;
        const next = await startService('peer-worker', { natsUrl: nats.url, dataDir: fleet.dataDir, id: 'pw-next' });
        const rpcNext = new TransmissionRpc(`http://127.0.0.1:${next.webPort}/transmission/rpc`);
        expect(await rpcNext.torrent(x.infoHash, ['id', 'metadataPercentComplete'])).toEqual({ id, metadataPercentComplete: 0 });
        await startLibtorrentSeed({ torrentPath: x.torrentPath, dataRoot: x.dataRoot, port: seedPort });
        // The dead worker's heartbeat entry expires (15 s) before the new one is the only owner left.
        await waitFor(async () => (await rpcNext.torrent(x.infoHash, ['leftUntilDone', 'metadataPercentComplete']))?.metadataPercentComplete === 1, 90_000, 'the metadata in', { intervalMs: 500 });
        await waitFor(async () => (await rpcNext.torrent(x.infoHash, ['leftUntilDone']))?.leftUntilDone === 0, 60_000, 'the download complete', { intervalMs: 250 });
        expect(await compareTrees(x.contentPath, join(fleet.dataDir, x.infoHash, x.name))).toBeNull();
        await next.process.stop();
      } finally {
        await fleet.stop();
      }
    }, 240_000);
  });
});
