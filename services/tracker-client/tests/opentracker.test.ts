import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseMetainfo, type AnnounceParams, type Metainfo } from '@seedbox/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedTrackers } from '../src/embedded.js';
import { TrackerClient } from '../src/tracker-client.js';
import { NetworkTrackerTransport } from '../src/transport.js';
import { waitFor } from './support/fake-transport.js';
import { freeTcpPort, freeUdpPort, onPath, startOpentracker, type RunningOpentracker } from './support/opentracker.js';

/**
 * Against a real opentracker. Skipped with a message when it is not
 * installed, except in CI (CI=true), where a missing tracker is a failure:
 * a green CI run must mean these ran.
 */

const available = onPath('opentracker');
const INSTALL = 'opentracker is not on PATH (Debian: apt-get install opentracker)';
if (!available) {
  if (process.env.CI === 'true') {
    describe('opentracker', () => {
      it('is installed (required when CI=true)', () => {
        throw new Error(INSTALL);
      });
    });
  } else {
    console.warn(`skipping the opentracker tests: ${INSTALL}`);
  }
}

const hash = (b: number): Uint8Array => new Uint8Array(20).fill(b);
const hex = (b: number): string => Buffer.from(hash(b)).toString('hex');
const HTTP_TORRENT = 0x11;
const UDP_TORRENT = 0x22;
const FLEET_TORRENT = 0x33;
const peerId = (c: string): Uint8Array => Buffer.from(`-SB0100-${c.repeat(12)}`, 'latin1');

describe.skipIf(!available)('against opentracker', () => {
  let ot: RunningOpentracker | undefined;
  const transport = new NetworkTrackerTransport({ http: { timeoutMs: 3000 }, udp: { retransmitBaseMs: 500, maxRetransmits: 2 } });

  /** A real .torrent made by mktorrent, announcing to this opentracker (UDP tier first, then HTTP). */
  let meta: Metainfo | undefined;
  let work = '';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'seedbox-tracker-test-'));
    const ports = { tcp: await freeTcpPort(), udp: await freeUdpPort() };
    const hashes = [hex(HTTP_TORRENT), hex(UDP_TORRENT), hex(FLEET_TORRENT)];
    if (onPath('mktorrent')) {
      writeFileSync(join(work, 'data.bin'), Buffer.alloc(100_000, 7));
      const out = join(work, 'data.torrent');
      execFileSync('mktorrent', ['-a', `udp://127.0.0.1:${ports.udp}/announce`, '-a', `http://127.0.0.1:${ports.tcp}/announce`, '-l', '15', '-o', out, join(work, 'data.bin')], {
        stdio: 'ignore',
      });
      meta = parseMetainfo(readFileSync(out));
      hashes.push(meta.infoHashHex);
    }
    ot = await startOpentracker(hashes, ports);
  });
  afterAll(async () => {
    await transport.close();
    await ot?.stop(); // by pid, also when a test failed
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const announceAs = (url: string, torrent: number, who: { id: string; port: number }, event: AnnounceParams['event']) =>
    transport.announce(url, {
      infoHash: hash(torrent),
      peerId: peerId(who.id),
      port: who.port,
      uploaded: 0,
      downloaded: 0,
      left: 100,
      event,
      numWant: 50,
      key: who.port,
    });

  for (const [proto, torrent] of [
    ['http', HTTP_TORRENT],
    ['udp', UDP_TORRENT],
  ] as const) {
    it(`${proto}: a second worker receives the first as a peer; stopped removes it`, async () => {
      const url = proto === 'http' ? ot!.httpUrl : ot!.udpUrl;
      const a = { id: 'a', port: 40001 };
      const b = { id: 'b', port: 40002 };
      await announceAs(url, torrent, a, 'started');
      const seen = await announceAs(url, torrent, b, 'started');
      expect(seen.interval).toBeGreaterThan(0);
      expect(seen.peers).toContainEqual({ host: '127.0.0.1', port: a.port });
      await announceAs(url, torrent, a, 'stopped');
      const after = await announceAs(url, torrent, b, 'none');
      expect(after.peers).not.toContainEqual({ host: '127.0.0.1', port: a.port });
    });
  }

  it('a torrent off the whitelist is refused with a typed error over both protocols', async () => {
    const stranger = { id: 'z', port: 40009 };
    const http = await announceAs(ot!.httpUrl, 0x44, stranger, 'started').catch((e: unknown) => e);
    expect(http).toMatchObject({ code: 'TRACKER_FAILURE', failureReason: expect.stringContaining('not authorized') });
    // Over UDP opentracker sends no error packet but a bare 8-byte announce
    // header, which BEP 15 does not allow (an announce reply has 20 bytes
    // at least): refused as a bad length rather than read as "no peers".
    const udp = await announceAs(ot!.udpUrl, 0x44, stranger, 'started').catch((e: unknown) => e);
    expect(udp).toMatchObject({ code: 'TRACKER_BAD_LENGTH', received: 8 });
  });

  it('the fleet: N workers are N peers; our own never reach the feed; stop() takes them out', async () => {
    const outside = { id: 'x', port: 41999 };
    await announceAs(ot!.httpUrl, FLEET_TORRENT, outside, 'started');
    const found: { host: string; port: number }[] = [];
    const announced: string[] = [];
    const client = new TrackerClient({
      peerFeed: { peersFound: (_hex, peers) => found.push(...peers) },
      network: { udp: { retransmitBaseMs: 500, maxRetransmits: 2 } },
      onAnnounce: (s) => announced.push(`${s.workerId}:${s.event}`),
      onWarning: (w) => {
        throw new Error(`unexpected warning: ${w.message}`);
      },
    });
    try {
      client.addTorrent({ infoHash: hash(FLEET_TORRENT), announce: [[ot!.udpUrl, ot!.httpUrl]] });
      for (const [workerId, port] of [
        ['w1', 41001],
        ['w2', 41002],
      ] as const) {
        client.heartbeat({ workerId, peerId: peerId(workerId.slice(1)), port, torrents: { [hex(FLEET_TORRENT)]: { uploaded: 0, downloaded: 0, left: 0 } } });
      }
      await waitFor(() => announced.length === 2, 5000, 'both workers announced');
      const swarm = await announceAs(ot!.httpUrl, FLEET_TORRENT, outside, 'none');
      expect(swarm.peers).toEqual(expect.arrayContaining([{ host: '127.0.0.1', port: 41001 }, { host: '127.0.0.1', port: 41002 }]));
      // The trackers listed both workers to each other (and to themselves): all filtered out.
      expect(found).toEqual([{ host: '127.0.0.1', port: outside.port }]);
    } finally {
      await client.stop();
    }
    expect(announced.filter((a) => a.endsWith(':stopped')).sort()).toEqual(['w1:stopped', 'w2:stopped']);
    const gone = await announceAs(ot!.httpUrl, FLEET_TORRENT, outside, 'none');
    expect(gone.peers.filter((p) => p.port === 41001 || p.port === 41002)).toEqual([]);
  });

  it.skipIf(!onPath('mktorrent'))('embedded mode: a mktorrent .torrent, its announce tiers, a worker and a stats callback', async () => {
    const m = meta!;
    expect(m.announce).toEqual([[ot!.udpUrl], [ot!.httpUrl]]);
    const outside = { id: 'o', port: 43999 };
    await transport.announce(ot!.httpUrl, {
      infoHash: m.infoHash,
      peerId: peerId(outside.id),
      port: outside.port,
      uploaded: 0,
      downloaded: 0,
      left: 0,
      event: 'started',
    });
    const figures = { uploaded: 0, downloaded: 0, left: m.totalLength, complete: false };
    const found: { host: string; port: number }[] = [];
    const events: string[] = [];
    const embedded = new EmbeddedTrackers({
      peerId: peerId('e'),
      port: 43001,
      network: { udp: { retransmitBaseMs: 500, maxRetransmits: 2 } },
      onAnnounce: (s) => events.push(`${s.event}@${s.url.slice(0, 3)}`),
      onWarning: (w) => events.push(`warning: ${w.message}`),
      pollMs: 20,
    });
    embedded.join(m, { totals: () => ({ ...figures }), peersFound: (peers) => found.push(...peers) });
    try {
      await waitFor(() => found.length > 0, 5000, 'the outside seed');
      expect(found).toEqual([{ host: '127.0.0.1', port: outside.port }]);
      expect(events).toEqual(['started@udp']); // tier 1 answered; tier 2 never needed
      Object.assign(figures, { downloaded: m.totalLength, left: 0, complete: true });
      await waitFor(() => events.length === 2, 5000, 'completed');
      expect(events[1]).toBe('completed@udp');
    } finally {
      await embedded.stop();
    }
    expect(events[2]).toBe('stopped@udp');
    const swarm = await transport.announce(ot!.httpUrl, {
      infoHash: m.infoHash,
      peerId: peerId(outside.id),
      port: outside.port,
      uploaded: 0,
      downloaded: 0,
      left: 0,
      event: 'none',
    });
    expect(swarm.peers.filter((p) => p.port === 43001)).toEqual([]);
  });
});
