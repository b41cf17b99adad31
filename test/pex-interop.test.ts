/**
 * Peer exchange (BEP 11, ut_pex) against real libtorrent 2.0, with no
 * tracker anywhere: every peer knows only the addresses the test gives it,
 * so a connection to any other peer can only come from PEX.
 *
 *   (a) ours learns a libtorrent peer from another libtorrent's ut_pex;
 *   (b) a libtorrent leech learns a peer from our ut_pex;
 *   (c) a private torrent (BEP 27): ours gives a libtorrent leech nothing.
 *
 * libtorrent sends a connection its first PEX message on the first tick
 * after the extended handshake once it has two peers, and one a minute
 * after that; so does ours. The seeds are slow (upload-limited), so the
 * downloads, and the connections PEX is about, last the whole test.
 *
 * Our side runs in process (the Engine, pieces accepted and dropped), so
 * the test can read its peer list.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PieceSink } from '@seedbox/cluster';
import { Engine, type Torrent } from '@seedbox/peer-worker';
import { Bitfield, parseMetainfo } from '@seedbox/protocol';
import { makeTorrent, type TestTorrent } from './support/data.js';
import { startLibtorrentLeech, startLibtorrentSeed } from './support/peers.js';
import { cleanupAfter, cleanupAll, cleanupMark, freePort, makeTempDir } from './support/processes.js';
import { needTools, tools } from './support/tools.js';

const lt = needTools(tools.libtorrent, tools.mktorrent);

/** Slow enough that an 8 MiB download lasts far longer than any test here. */
const SLOW = 100_000;

let pub: TestTorrent;
let priv: TestTorrent;
const engines: Engine[] = [];

beforeAll(async () => {
  if (!lt.available) return;
  const dir = makeTempDir('pex-interop');
  pub = await makeTorrent({ dir: join(dir, 'public'), name: 'pex.bin', files: { size: 8 << 20 }, pieceLength: 64 << 10 });
  priv = await makeTorrent({ dir: join(dir, 'private'), name: 'pex-private.bin', files: { size: 8 << 20 }, pieceLength: 64 << 10, private: true });
});

afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop();
});
afterAll(() => cleanupAll());

/** Our engine with the torrent added, nothing on disk; pieces are accepted and dropped. */
async function ours(t: TestTorrent): Promise<{ engine: Engine; torrent: Torrent; port: number }> {
  const meta = parseMetainfo(readFileSync(t.torrentPath));
  const sink: PieceSink = { writePiece: async () => ({ status: 'written', micros: 0 }) };
  const port = await freePort();
  const engine = new Engine({ sink, listen: { host: '127.0.0.1', port } });
  await engine.start();
  engines.push(engine);
  const torrent = engine.add(meta, { data: { check: async () => ({ have: new Bitfield(meta.pieceCount), fastPath: false, hashed: 0 }) } });
  return { engine, torrent, port };
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const peersLine = (port: number) => new RegExp(`^PEERS .*\\b127\\.0\\.0\\.1:${port}\\b`);

describe.skipIf(!lt.available)('peer exchange with libtorrent', () => {
  it('(a) ours connects to a peer it learned only from a libtorrent ut_pex message', async () => {
    const mark = cleanupMark();
    try {
      // A: a slow seed. B: a leech that dialled A and has part of the data.
      const a = await startLibtorrentSeed({ torrentPath: pub.torrentPath, dataRoot: pub.dataRoot, uploadLimit: SLOW });
      const b = await startLibtorrentLeech({ torrentPath: pub.torrentPath, saveDir: makeTempDir('pex-b'), peers: [a] });
      await b.process.waitForLine(/^PROGRESS [1-9]/, 20_000, 'libtorrent B to have data from A');
      const { torrent } = await ours(pub);
      torrent.addPeers([{ host: a.host, port: a.port }]);
      await until(`ours to connect to B (127.0.0.1:${b.port})`, () => torrent.peerList().some((p) => p.port === b.port && !p.incoming), 20_000);
    } finally {
      await cleanupAfter(mark);
    }
  });

  it('(b) a libtorrent leech connects to a peer it learned only from our ut_pex message', async () => {
    const mark = cleanupMark();
    try {
      const s = await startLibtorrentSeed({ torrentPath: pub.torrentPath, dataRoot: pub.dataRoot, uploadLimit: SLOW });
      const { torrent, port } = await ours(pub);
      torrent.addPeers([{ host: s.host, port: s.port }]);
      await until('ours to connect to S', () => torrent.peerList().some((p) => p.port === s.port), 10_000);
      const l = await startLibtorrentLeech({ torrentPath: pub.torrentPath, saveDir: makeTempDir('pex-l'), peers: [{ host: '127.0.0.1', port }], printPeers: true });
      await l.process.waitForLine(peersLine(port), 20_000, 'libtorrent L to connect to ours');
      // L knows only us; S, a seed, never dials (lt_peer.py): L dialled S's listen port, learned from our ut_pex.
      await l.process.waitForLine(peersLine(s.port), 20_000, 'libtorrent L to connect to S, learned from our ut_pex');
    } finally {
      await cleanupAfter(mark);
    }
  });

  it('(c) a private torrent: ours tells a libtorrent leech nothing', async () => {
    const mark = cleanupMark();
    try {
      const s = await startLibtorrentSeed({ torrentPath: priv.torrentPath, dataRoot: priv.dataRoot, uploadLimit: SLOW });
      const { torrent, port } = await ours(priv);
      torrent.addPeers([{ host: s.host, port: s.port }]);
      await until('ours to connect to S', () => torrent.peerList().some((p) => p.port === s.port), 10_000);
      const l = await startLibtorrentLeech({ torrentPath: priv.torrentPath, saveDir: makeTempDir('pex-lp'), peers: [{ host: '127.0.0.1', port }], printPeers: true });
      await l.process.waitForLine(peersLine(port), 20_000, 'libtorrent L to connect to ours');
      // Ours would send its first message within a second or two of the handshake (as (b) shows).
      await new Promise((r) => setTimeout(r, 6000));
      expect(l.process.text()).not.toMatch(/^PEERS .*=libtorrent\//m);
      expect(torrent.peerList().length).toBe(2);
    } finally {
      await cleanupAfter(mark);
    }
  });
});
