import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { rc4Available, type Metainfo } from '@seedbox/protocol';
import type { PeerInfo } from '@seedbox/cluster';
import { Engine } from '../src/engine.js';
import { EncryptionPolicyError, type EncryptionPolicy } from '../src/encryption/encryption-policy.js';
import type { CloseReason } from '../src/peer-connection.js';
import { MemorySink, memoryData } from './support/memory-data.js';
import { metaFor, startScriptedSeed } from './support/scripted-peer.js';
import { startSeedEngine } from './support/seed-engine.js';

/**
 * Message stream encryption between two engines, for each pair of
 * policies: what each side ends up speaking, and what is refused. The
 * interop with libtorrent and Transmission is in test/encryption-interop.test.ts.
 */

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const data = randomBytes(16384 * 40 + 1234);
const meta = metaFor(data, 16384) as Metainfo;

const seedEngine = (encryption: EncryptionPolicy): Promise<Engine> => startSeedEngine(meta, data, { encryption }, cleanups);

interface Leech {
  done: Promise<void>;
  closed: CloseReason[];
  peers: () => PeerInfo[];
  sink: MemorySink;
}

async function leech(encryption: EncryptionPolicy, port: number): Promise<Leech> {
  const sink = new MemorySink(meta);
  const engine = new Engine({ sink, listen: false, tickMs: 100, encryption });
  await engine.start();
  cleanups.push(() => engine.stop());
  const torrent = engine.add(meta, { data: memoryData(meta.pieceCount) });
  const closed: CloseReason[] = [];
  torrent.on('closed', (_s, reason) => closed.push(reason));
  const done = new Promise<void>((resolve) => torrent.once('complete', resolve));
  let seen: PeerInfo[] = [];
  // The peer list while connected: sampled at each tick, kept once non-empty.
  engine.on('tick', () => {
    const now = torrent.peerList();
    if (now.length > 0) seen = now;
  });
  torrent.addPeers([{ host: '127.0.0.1', port }]);
  return { done, closed, peers: () => seen, sink };
}

const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.runIf(rc4Available())('message stream encryption between engines', () => {
  it.each([
    // leech, seed, what the connection ends up as
    ['require', 'require', 'rc4'],
    ['require', 'prefer', 'rc4'],
    ['prefer', 'require', 'rc4'],
    ['prefer', 'prefer', 'handshake'],
    ['prefer', 'disable', undefined],
    ['disable', 'prefer', undefined],
  ] as const)('leech %s, seed %s: downloads byte-identical over %s', async (leechPolicy, seedPolicy, expected) => {
    const seed = await seedEngine(seedPolicy);
    const l = await leech(leechPolicy, seed.listenPort!);
    await l.done;
    expect(l.sink.content().equals(data)).toBe(true);
    await settle(150);
    expect(l.peers()[0]?.encryption).toBe(expected);
    // A seed that takes no encrypted handshake makes a `prefer` leech dial again in plain text.
    if (leechPolicy === 'prefer' && seedPolicy === 'disable') {
      expect(l.closed).toContain('encryption-failed');
      expect(seed.refusedConnections['encrypted-refused']).toBe(1);
    } else {
      expect(l.closed).not.toContain('encryption-failed');
    }
  });

  it('a leech that requires encryption never trades with a seed that disables it, nor the other way round', async () => {
    const plainSeed = await seedEngine('disable');
    const strict = await leech('require', plainSeed.listenPort!);
    const strictSeed = await seedEngine('require');
    const plain = await leech('disable', strictSeed.listenPort!);
    await settle(1500);
    expect(strict.sink.content().length).toBe(0);
    expect(strict.closed.every((r) => r === 'encryption-failed')).toBe(true);
    expect(plainSeed.refusedConnections['encrypted-refused']).toBeGreaterThanOrEqual(1);
    expect(plain.closed.length).toBeGreaterThanOrEqual(1);
    expect(strictSeed.refusedConnections['plaintext-refused']).toBeGreaterThanOrEqual(1);
  });

  it('falls back to plain text with a peer that closes on the encrypted handshake, once', async () => {
    const s = await startScriptedSeed({ data, pieceLength: 16384, infoHash: meta.infoHash });
    cleanups.push(() => s.close());
    const l = await leech('prefer', s.port);
    await l.done;
    expect(l.sink.content().equals(data)).toBe(true);
    expect(l.closed).toEqual(['encryption-failed']);
    expect(s.stats.connections).toBe(2);
  });

  it('changes policy at run time, and refuses an unknown one', async () => {
    const engine = new Engine({ sink: new MemorySink(meta), listen: false, encryption: 'disable' });
    engine.setEncryption('require');
    expect(engine.encryption).toBe('require');
    expect(() => engine.setEncryption('sometimes' as EncryptionPolicy)).toThrow(EncryptionPolicyError);
    expect(engine.encryption).toBe('require');
  });
});
