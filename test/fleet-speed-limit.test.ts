/**
 * The fleet-wide speed limit (issue 14) in a real fleet: two peer-workers
 * downloading at once from a libtorrent seed, one global download limit
 * set through the control API. The limit holds for the fleet as a whole
 * (FleetBandwidth shares it among the workers each tick by their demand),
 * both workers get a share, and every byte arrives.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SetConfigRequest, type GetTorrentResponse } from '@seedbox/proto';
import { compareTrees, makeTorrent, type TestTorrent } from './support/data.js';
import { call, scrape, startFleet } from './support/fleet.js';
import { startNatsServer } from './support/nats.js';
import { startLibtorrentSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir, waitFor } from './support/processes.js';
import { needTools, tools } from './support/tools.js';
import { startOpentracker } from './support/tracker.js';

const need = needTools(tools.natsServer, tools.libtorrent, tools.mktorrent, tools.opentracker);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

const LIMIT = 4 * 1024 * 1024;
const SIZE = 6 * 1024 * 1024;

describe.skipIf(!need.available)('the fleet-wide download limit', () => {
  it('holds for two workers together, each getting a share, every byte intact', async () => {
    const work = makeTempDir('fleet-limit');
    const trackerPort = await freePort();
    const tracker = `http://127.0.0.1:${trackerPort}/announce`;
    const torrents: TestTorrent[] = [];
    // Four torrents, so that the rendezvous owner of some is each worker (the hashes are fixed by the content).
    for (let i = 0; i < 4; i++) torrents.push(await makeTorrent({ dir: join(work, 'src'), name: `limited-${i}.bin`, pieceLength: 64 * 1024, tracker, files: { size: SIZE + i } }));
    const nats = await startNatsServer();
    await startOpentracker({ infoHashes: torrents.map((t) => t.infoHash), port: trackerPort });
    await startLibtorrentSeed({ torrentPath: torrents.map((t) => t.torrentPath), dataRoot: torrents[0]!.dataRoot });
    const fleet = await startFleet({ natsUrl: nats.url, peerWorkers: 2 });
    try {
      await call(fleet.control, 'setConfig', SetConfigRequest.fromPartial({ patch: { downloadLimit: LIMIT } }));
      const started = Date.now();
      for (const t of torrents) await call(fleet.control, 'addTorrent', { torrentFile: readFileSync(t.torrentPath), paused: false });
      const left = async (): Promise<number> => {
        let sum = 0;
        for (const t of torrents) {
          const s = (await call<{ infoHash: string }, GetTorrentResponse>(fleet.control, 'getTorrent', { infoHash: t.infoHash })).torrent?.stats;
          sum += s && s.pieceCount > 0 ? s.leftBytes : SIZE;
        }
        return sum;
      };
      await waitFor(async () => (await left()) === 0, 90_000, 'every download complete', { intervalMs: 250 });
      const seconds = (Date.now() - started) / 1000;
      const total = torrents.length * SIZE;
      // Within 25% over the limit as a whole (the first second's burst included), and not far under it.
      expect(total / seconds).toBeLessThan(LIMIT * 1.25);
      expect(total / seconds).toBeGreaterThan(LIMIT * 0.5);
      // Both workers downloaded: each one's counters hold bytes of some torrent.
      for (const w of fleet.peerWorkers) {
        const m = await scrape(w.metricsPort);
        const bytes = [...m].filter(([k]) => k.startsWith('seedbox_torrent_downloaded_bytes_total')).reduce((a, [, v]) => a + v, 0);
        expect(bytes, `${w.id} downloaded`).toBeGreaterThan(0);
      }
      for (const t of torrents) expect(await compareTrees(t.contentPath, join(fleet.dataDir, t.infoHash, t.name)), t.name).toBeNull();
    } finally {
      await fleet.stop();
    }
  }, 180_000);
});
