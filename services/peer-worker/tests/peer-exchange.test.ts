import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { Bitfield, PexFlag, UT_PEX, type Metainfo, type PeerAddress, type PexMessage } from '@seedbox/protocol';
import { Engine } from '../src/engine.js';
import { PEX_MAX_KNOWN, PEX_RECEIVE_INTERVAL_MS, PEX_SEND_INTERVAL_MS, PeerExchange } from '../src/peer-exchange.js';
import type { PeerSession } from '../src/peer-session.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { startPexPeer, type PexPeer } from './support/pex-peer.js';
import { metaFor, startScriptedSeed, type ScriptedSeed } from './support/scripted-peer.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const DATA = randomBytes(8 * 32768);
const PIECE = 32768;

async function setup(o: { private?: boolean } = {}) {
  const meta = { ...metaFor(DATA, PIECE), private: o.private ?? false } as Metainfo;
  const engine = new Engine({ sink: new MemorySink(meta), listen: false, tickMs: 100 });
  await engine.start();
  cleanups.push(() => engine.stop());
  const torrent = engine.add(meta, { data: memoryData(meta.pieceCount) });
  const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
  return { meta, torrent, done };
}

async function seed(meta: Metainfo, delayMs = 0): Promise<ScriptedSeed> {
  const s = await startScriptedSeed({ data: DATA, pieceLength: PIECE, infoHash: meta.infoHash, delayMs });
  cleanups.push(() => s.close());
  return s;
}

async function pexPeer(meta: Metainfo, send: PexMessage[] = []): Promise<PexPeer> {
  const p = await startPexPeer({ infoHash: meta.infoHash, send });
  cleanups.push(() => p.close());
  return p;
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('peer exchange (BEP 11) in the engine', () => {
  it('dials a peer it learned only from a PEX message, and downloads from it', async () => {
    const { meta, torrent, done } = await setup();
    const s = await seed(meta);
    const p = await pexPeer(meta, [{ added: [{ host: '127.0.0.1', port: s.port, flags: PexFlag.seed }], dropped: [] }]);
    torrent.addPeers([p.address]);
    await done;
    expect(p.heard.offeredPex).toBe(true);
    expect(s.stats.connections).toBeGreaterThanOrEqual(1);
  });

  it('tells a PEX peer the peers it is connected to, with flags, once within the minute', async () => {
    const { meta, torrent } = await setup();
    const s = await seed(meta, 200); // slow: the download lasts the test
    const p = await pexPeer(meta);
    torrent.addPeers([{ host: '127.0.0.1', port: s.port }, p.address]);
    await until('a PEX message', () => p.heard.received.length > 0);
    expect(p.heard.received[0]).toEqual({ added: [{ host: '127.0.0.1', port: s.port, flags: PexFlag.seed | PexFlag.reachable }], dropped: [] });
    await sleep(1000); // ten ticks
    expect(p.heard.received).toHaveLength(1);
  });

  it('neither offers nor takes PEX for a private torrent (BEP 27)', async () => {
    const { meta, torrent } = await setup({ private: true });
    const s = await seed(meta);
    const p = await pexPeer(meta, [{ added: [{ host: '127.0.0.1', port: s.port, flags: PexFlag.seed }], dropped: [] }]);
    torrent.addPeers([p.address]);
    await until('the extended handshake', () => p.heard.offeredPex !== undefined);
    await sleep(1000);
    expect(p.heard.offeredPex).toBe(false);
    expect(s.stats.connections).toBe(0);
    expect(torrent.sessionCount).toBe(1); // the message was ignored, not taken for a protocol error
  });
});

describe('PeerExchange', () => {
  const fakeSession = {} as PeerSession;
  const msg = (port: number) => ({ added: [{ host: '10.0.0.1', port, flags: 0 }], dropped: [] });

  it(`takes one message per peer per ${PEX_RECEIVE_INTERVAL_MS / 1000} s, as libtorrent does`, () => {
    let now = 1_000_000;
    const added: PeerAddress[] = [];
    const pex = new PeerExchange({ enabled: true, addPeers: (p) => added.push(...p), now: () => now });
    pex.received(fakeSession, msg(1));
    now += PEX_RECEIVE_INTERVAL_MS - 1;
    pex.received(fakeSession, msg(2));
    now += 1;
    pex.received(fakeSession, msg(3));
    expect(added.map((a) => a.port)).toEqual([1, 3]);
    expect([pex.taken, pex.ignored]).toEqual([2, 1]);
  });

  it('takes nothing when disabled (a private torrent)', () => {
    const added: PeerAddress[] = [];
    const pex = new PeerExchange({ enabled: false, addPeers: (p) => added.push(...p) });
    pex.received(fakeSession, msg(1));
    expect(added).toEqual([]);
  });

  it(`stops adding past ${PEX_MAX_KNOWN} known peers`, () => {
    const added: PeerAddress[] = [];
    const pex = new PeerExchange({ enabled: true, addPeers: (p) => added.push(...p), knownCount: () => PEX_MAX_KNOWN });
    pex.received(fakeSession, msg(1));
    expect(added).toEqual([]);
  });
});

/** What PeerExchange reads of a session, and the messages it was sent. */
function session(port: number, o: { incoming?: boolean; listenPort?: number; pex?: boolean; seed?: boolean } = {}) {
  const sent: PexMessage[] = [];
  const pieces = new Bitfield(4);
  if (o.seed) for (let i = 0; i < 4; i++) pieces.set(i);
  const s = {
    peer: { host: '10.0.0.1', port },
    direction: o.incoming ? 'incoming' : 'outgoing',
    isOpen: true,
    peerPieces: pieces,
    extensions: { peerExtensions: new Map(o.pex === false ? [] : [[UT_PEX, 3]]), peerListenPort: o.listenPort },
    sendPex: (m: PexMessage) => (sent.push(m), true),
  };
  return { s: s as unknown as PeerSession, sent };
}

describe('PeerExchange: what each peer is told', () => {
  it('tells each peer the others once a minute: first all, then what was added and dropped', () => {
    let now = 0;
    const pex = new PeerExchange({ enabled: true, addPeers: () => {}, now: () => now });
    const a = session(1, { seed: true });
    const b = session(2);
    const c = session(3, { incoming: true, listenPort: 30 });
    const d = session(4, { incoming: true }); // no listen port: not advertised
    const noPex = session(5, { pex: false });
    const live = new Set([a.s, b.s, c.s, d.s, noPex.s]);
    pex.tick(live);
    expect(b.sent).toEqual([
      {
        added: [
          { host: '10.0.0.1', port: 1, flags: PexFlag.seed | PexFlag.reachable },
          { host: '10.0.0.1', port: 30, flags: 0 },
          { host: '10.0.0.1', port: 5, flags: PexFlag.reachable },
        ],
        dropped: [],
      },
    ]);
    expect(noPex.sent).toEqual([]);

    live.delete(a.s);
    const e = session(6);
    live.add(e.s);
    now += PEX_SEND_INTERVAL_MS - 1;
    pex.tick(live);
    expect(b.sent).toHaveLength(1); // not within the minute
    now += 1;
    pex.tick(live);
    expect(b.sent[1]).toEqual({ added: [{ host: '10.0.0.1', port: 6, flags: PexFlag.reachable }], dropped: [{ host: '10.0.0.1', port: 1 }] });
    // e joined later: its first message is everyone else now.
    expect(e.sent[0]!.added.map((p) => p.port)).toEqual([2, 30, 5]);
  });

  it('sends nothing when nothing changed, and nothing at all when disabled', () => {
    const a = session(1);
    const b = session(2);
    const live = new Set([a.s, b.s]);
    const off = new PeerExchange({ enabled: false, addPeers: () => {} });
    off.tick(live);
    expect([a.sent, b.sent]).toEqual([[], []]);
    let now = 0;
    const on = new PeerExchange({ enabled: true, addPeers: () => {}, now: () => now });
    on.tick(live);
    now += PEX_SEND_INTERVAL_MS;
    on.tick(live);
    expect([a.sent.length, b.sent.length]).toEqual([1, 1]);
  });
});
