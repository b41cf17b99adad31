import { describe, expect, it } from 'vitest';
import { FilteringPeerFeed, type PeerFeed } from '../src/peer-feed.js';

const collect = (): PeerFeed & { got: { hex: string; peers: { host: string; port: number }[]; source: string }[] } => {
  const got: { hex: string; peers: { host: string; port: number }[]; source: string }[] = [];
  return { got, peersFound: (hex, peers, source) => got.push({ hex, peers, source }) };
};

describe('FilteringPeerFeed', () => {
  it('drops our own addresses and duplicates within a batch, and normalises addresses', () => {
    const down = collect();
    const feed = new FilteringPeerFeed(down, { isOwn: (p) => p.host === '10.0.0.1' && p.port === 6881 });
    feed.peersFound(
      'aa',
      [
        { host: '10.0.0.1', port: 6881 },
        { host: '::ffff:10.0.0.1', port: 6881 }, // the same, spelled as IPv6
        { host: '10.0.0.1', port: 6882 },
        { host: '2001:DB8::1', port: 1 },
        { host: '2001:db8:0::1', port: 1 },
        { host: '10.0.0.1', port: 6882 },
        { host: 'not an address', port: 1 },
        { host: '10.0.0.2', port: 0 },
      ],
      'http://t/',
    );
    expect(down.got).toEqual([{ hex: 'aa', source: 'http://t/', peers: [{ host: '10.0.0.1', port: 6882 }, { host: '2001:db8::1', port: 1 }] }]);
    expect(feed.counts).toEqual({ forwarded: 2, own: 2, duplicate: 2, invalid: 2 });
  });

  it('drops our own workers by peer id too', () => {
    const down = collect();
    const me = new Uint8Array(20).fill(7);
    const feed = new FilteringPeerFeed(down, { isOwn: (p) => p.peerId !== undefined && Buffer.from(p.peerId).equals(Buffer.from(me)) });
    feed.peersFound('aa', [{ host: '10.0.0.9', port: 1, peerId: me }, { host: '10.0.0.9', port: 2 }], 's');
    expect(down.got[0]!.peers).toEqual([{ host: '10.0.0.9', port: 2 }]);
  });

  it('does not send a peer again for the same torrent until the TTL passes, and not at all when nothing is new', () => {
    const down = collect();
    let now = 1000;
    const feed = new FilteringPeerFeed(down, { recentTtlMs: 100, now: () => now });
    const p = [{ host: '10.0.0.5', port: 5 }];
    feed.peersFound('aa', p, 'a');
    feed.peersFound('aa', p, 'b'); // another worker's announce: same peer
    feed.peersFound('bb', p, 'a'); // another torrent: news
    expect(down.got.map((g) => g.hex)).toEqual(['aa', 'bb']);
    now += 101;
    feed.peersFound('aa', p, 'c');
    expect(down.got.map((g) => g.source)).toEqual(['a', 'a', 'c']);
    feed.forget('bb');
    feed.peersFound('bb', p, 'd');
    expect(down.got).toHaveLength(4);
  });

  it('remembers a bounded number of peers per torrent, forgetting the oldest', () => {
    const down = collect();
    const feed = new FilteringPeerFeed(down, { maxRecentPerTorrent: 2 });
    const peer = (port: number) => [{ host: '10.0.0.5', port }];
    feed.peersFound('aa', peer(1), 's');
    feed.peersFound('aa', peer(2), 's');
    feed.peersFound('aa', peer(3), 's'); // evicts port 1
    feed.peersFound('aa', peer(1), 's'); // so this goes out again
    feed.peersFound('aa', peer(3), 's'); // still remembered
    expect(down.got.map((g) => g.peers[0]!.port)).toEqual([1, 2, 3, 1]);
  });
});
