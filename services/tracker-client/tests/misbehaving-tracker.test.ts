import { encodeBencode } from '@seedbox/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackerWarning } from '../src/announcer.js';
import { TrackerClient } from '../src/tracker-client.js';
import { waitFor } from './support/fake-transport.js';
import { goodHttpReply, rawQuery, startHttpStub, startUdpStub, type HttpStub, type UdpStub } from './support/stub-trackers.js';

/**
 * Trackers that misbehave in every way we know, each put in front of a good
 * tracker in the tier list: each must cost one clear, typed warning, after
 * which the announcer reaches the good tracker and its peers reach the feed.
 * Real sockets and the real transports throughout.
 */

const infoHash = new Uint8Array(20).fill(0x5e);
const hex = '5e'.repeat(20);
const goodPeer = { host: '10.213.9.9', port: 6881 };

const stubs: { close(): Promise<void> }[] = [];
let good: HttpStub;
const bad: Record<string, string> = {};
let silentUdp: UdpStub;

beforeAll(async () => {
  const http = async (handler: Parameters<typeof startHttpStub>[0]): Promise<string> => {
    const s = await startHttpStub(handler);
    stubs.push(s);
    return s.url();
  };
  const udp = async (b: Parameters<typeof startUdpStub>[0]): Promise<UdpStub> => {
    const s = await startUdpStub(b);
    stubs.push(s);
    return s;
  };
  good = await startHttpStub((_req, res) => res.end(goodHttpReply([goodPeer])));
  stubs.push(good);
  bad['http garbage body'] = await http((_req, res) => res.end('<html><body>502 Bad Gateway</body></html>'));
  bad['http no answer'] = await http(() => {});
  bad['http failure reason'] = await http((_req, res) => res.end(encodeBencode({ 'failure reason': 'torrent not allowed here' })));
  bad['http oversized body'] = await http((_req, res) => {
    res.write(Buffer.alloc(512 * 1024, 0x64));
    res.end();
  });
  bad['http cut peer list'] = await http((_req, res) => res.end(encodeBencode({ interval: 60, peers: Buffer.alloc(7) })));
  bad['udp truncated packet'] = (await udp('truncated-connect')).url;
  bad['udp truncated announce'] = (await udp('truncated-announce')).url;
  bad['udp wrong transaction id'] = (await udp('wrong-transaction')).url;
  bad['udp too short to route'] = (await udp('short')).url;
  bad['udp error packet'] = (await udp('error')).url;
  silentUdp = await udp('silent');
  bad['udp no answer'] = silentUdp.url;
  bad['nothing listening'] = 'http://127.0.0.1:1/announce';
});

afterAll(async () => {
  await Promise.all(stubs.map((s) => s.close()));
});

const expected: Record<string, string> = {
  'http garbage body': 'TRACKER_BAD_RESPONSE',
  'http no answer': 'TRACKER_TIMEOUT',
  'http failure reason': 'TRACKER_FAILURE',
  'http oversized body': 'TRACKER_TOO_LARGE',
  'http cut peer list': 'TRACKER_BAD_PEERS',
  'udp truncated packet': 'TRACKER_BAD_LENGTH',
  'udp truncated announce': 'TRACKER_BAD_LENGTH',
  'udp wrong transaction id': 'TRACKER_TRANSACTION_MISMATCH',
  'udp too short to route': 'TRACKER_BAD_LENGTH',
  'udp error packet': 'TRACKER_FAILURE',
  'udp no answer': 'TRACKER_TIMEOUT',
  'nothing listening': 'TRACKER_NETWORK',
};

function client(found: { peers: { host: string; port: number }[]; source: string }[], warnings: TrackerWarning[]): TrackerClient {
  return new TrackerClient({
    peerFeed: { peersFound: (_hex, peers, source) => found.push({ peers, source }) },
    onWarning: (w) => warnings.push(w),
    network: {
      http: { timeoutMs: 300, maxBytes: 64 * 1024 },
      udp: { retransmitBaseMs: 30, maxRetransmits: 1 },
    },
    timing: { stopTimeoutMs: 1000 },
    localAddresses: () => [],
  });
}

describe('a misbehaving tracker costs a warning and a failover', () => {
  it.each(Object.keys(expected))('%s', async (kind) => {
    const found: { peers: { host: string; port: number }[]; source: string }[] = [];
    const warnings: TrackerWarning[] = [];
    const c = client(found, warnings);
    try {
      c.addTorrent({ infoHash, announce: [[bad[kind]!], [good.url()]] });
      c.heartbeat({ workerId: 'w1', peerId: new Uint8Array(20).fill(1), port: 6001, torrents: { [hex]: { uploaded: 0, downloaded: 0, left: 10 } } });
      await waitFor(() => found.length > 0, 5000, 'peers from the good tracker');
      expect(found).toEqual([{ peers: [goodPeer], source: good.url() }]);
      expect(warnings).toHaveLength(1);
      const w = warnings[0]!;
      expect(w).toMatchObject({ kind: 'announce-failed', url: bad[kind], code: expected[kind], infoHashHex: hex, workerId: 'w1', event: 'started' });
      expect(w.message.length).toBeGreaterThan(20);
    } finally {
      const before = good.requests.length;
      await c.stop();
      // `stopped` went to the tracker that knows us, and only there.
      expect(good.requests.slice(before).map((r) => rawQuery(r).get('event'))).toEqual(['stopped']);
    }
  });

  it('a tier of only bad trackers, shuffled, is tried to the end before the next tier', async () => {
    const found: { peers: { host: string; port: number }[]; source: string }[] = [];
    const warnings: TrackerWarning[] = [];
    const c = client(found, warnings);
    try {
      const tier = Object.values(bad);
      c.addTorrent({ infoHash, announce: [tier, [good.url()]] });
      c.heartbeat({ workerId: 'w1', peerId: new Uint8Array(20).fill(1), port: 6001, torrents: { [hex]: { uploaded: 0, downloaded: 0, left: 10 } } });
      await waitFor(() => found.length > 0, 15_000, 'peers from the good tracker');
      expect(warnings.map((w) => w.url).sort()).toEqual([...tier].sort());
      expect(warnings.map((w) => w.code).sort()).toEqual(Object.values(expected).sort());
      expect(found[0]!.peers).toEqual([goodPeer]);
    } finally {
      await c.stop();
    }
  }, 30_000);
});
