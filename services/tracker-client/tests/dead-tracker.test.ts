import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerAddress } from '@seedbox/protocol';
import { EmbeddedTrackers } from '../src/embedded.js';
import { NetworkTrackerTransport } from '../src/transport.js';
import { UdpTrackerClient } from '../src/udp-tracker.js';
import { waitFor } from './support/fake-transport.js';
import { onPath, startOpentracker, type RunningOpentracker } from './support/opentracker.js';

/**
 * A tier listing a black-holed UDP tracker first and a live opentracker
 * (HTTP) after it: the torrent must get its peers from the live one within
 * 20 s, with the network transport at its defaults (BEP 15's 15 s first
 * retransmit and all). Before the bounded first try, the black hole held
 * the tier for 15+30+60+120 = 225 s (measured: 225.0 s); now it holds it
 * for the 10 s bound (measured: 10.0 s). The black hole is a bound UDP socket
 * on 127.0.0.1 that reads and drops every packet.
 */

const available = onPath('opentracker');
if (!available) console.warn('skipping the dead-tracker test: opentracker is not on PATH (Debian: apt-get install opentracker)');

const INFO_HASH = new Uint8Array(20).fill(0x5d);
const HEX = Buffer.from(INFO_HASH).toString('hex');
const peerId = (c: string): Uint8Array => Buffer.from(`-SB0100-${c.repeat(12)}`, 'latin1');

describe.skipIf(!available)('a black-holed UDP tracker first in its tier', () => {
  let ot: RunningOpentracker | undefined;
  let hole: dgram.Socket | undefined;
  let holeUrl = '';
  let dropped = 0;
  const SEED_PORT = 45_123;

  beforeAll(async () => {
    hole = dgram.createSocket('udp4');
    hole.on('message', () => dropped++);
    await new Promise<void>((r) => hole!.bind(0, '127.0.0.1', r));
    holeUrl = `udp://127.0.0.1:${(hole.address() as AddressInfo).port}/announce`;
    ot = await startOpentracker([HEX]);
    // A seed the live tracker knows of, announced over its own transport.
    const transport = new NetworkTrackerTransport();
    await transport.announce(ot.httpUrl, { infoHash: INFO_HASH, peerId: peerId('s'), port: SEED_PORT, uploaded: 0, downloaded: 0, left: 0, event: 'started' });
    await transport.close();
  });

  afterAll(async () => {
    await ot?.stop();
    await new Promise<void>((r) => (hole ? hole.close(() => r()) : r()));
  });

  it('gets the peers of the live tracker within 20 s and shows the dead one as timed out', async () => {
    const found: PeerAddress[] = [];
    const embedded = new EmbeddedTrackers({
      peerId: peerId('d'),
      port: 45_124,
      // 0.999 keeps each tier as written: the black hole is asked first.
      random: () => 0.999,
      onWarning: () => {},
      pollMs: 50,
    });
    const t0 = Date.now();
    embedded.join(
      { infoHash: INFO_HASH, infoHashHex: HEX, announce: [[holeUrl, ot!.httpUrl]] },
      { totals: () => ({ uploaded: 0, downloaded: 0, left: 1000, complete: false }), peersFound: (peers) => found.push(...peers) },
    );
    try {
      await waitFor(() => found.length > 0, 20_000, 'the peers of the live tracker');
      const delay = Date.now() - t0;
      console.log(`dead-tracker: peers from the live tracker after ${delay} ms (the black hole dropped ${dropped} packets)`);
      expect(found).toEqual([{ host: '127.0.0.1', port: SEED_PORT }]);
      expect(dropped).toBeGreaterThan(0);
      expect(delay).toBeLessThan(20_000);
      const status = embedded.trackerStatus(HEX);
      expect(status.find((s) => s.url === ot!.httpUrl)).toMatchObject({ ok: true });
      expect(status.find((s) => s.url === holeUrl)).toMatchObject({ ok: false, failure: 'timeout' });
      expect(status.find((s) => s.url === holeUrl)?.error).toMatch(/timed out/);
    } finally {
      await embedded.stop();
    }
  }, 40_000);
});

describe('a UDP connect nobody waits for any more', () => {
  it('is cancelled, so the next try of that tracker sends a connect of its own', async () => {
    const hole = dgram.createSocket('udp4');
    let packets = 0;
    hole.on('message', () => packets++);
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', r));
    const url = `udp://127.0.0.1:${(hole.address() as AddressInfo).port}/announce`;
    const udp = new UdpTrackerClient(); // BEP 15's schedule: the first retransmit only after 15 s
    const params = { infoHash: INFO_HASH, peerId: peerId('u'), port: 6881, uploaded: 0, downloaded: 0, left: 1, event: 'started' as const };
    try {
      for (const n of [1, 2]) {
        await expect(udp.announce(url, params, AbortSignal.timeout(100))).rejects.toMatchObject({ code: 'TRACKER_ABORTED' });
        await waitFor(() => packets === n, 2000, `connect ${n}`);
      }
    } finally {
      await udp.close();
      await new Promise<void>((r) => hole.close(() => r()));
    }
  });
});
