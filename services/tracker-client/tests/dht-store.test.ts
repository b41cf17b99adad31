import { describe, expect, it } from 'vitest';
import { TokenSecrets } from '../src/dht/dht-tokens.js';
import { randomNodeId } from '../src/dht/node-id.js';
import { PeerStore } from '../src/dht/peer-store.js';
import { QueryRateLimiter } from '../src/dht/rate-limit.js';

const MIN = 60_000;

function clock(start = 5_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TokenSecrets', () => {
  it('accepts its token for the same IP, refuses it for another', () => {
    const tokens = new TokenSecrets();
    const tok = tokens.issue('10.1.2.3');
    expect(tok.length).toBe(8);
    expect(tokens.check('10.1.2.3', tok)).toBe(true);
    expect(tokens.check('10.1.2.4', tok)).toBe(false);
    expect(tokens.check('10.1.2.3', tok.subarray(0, 4))).toBe(false);
    // One spelling per address: the IPv4-mapped form is the same IP.
    expect(tokens.check('::ffff:10.1.2.3', tok)).toBe(true);
  });

  it('rotates every 5 minutes and still takes the previous secret, not the one before', () => {
    const c = clock();
    const tokens = new TokenSecrets({ now: c.now });
    const old = tokens.issue('10.0.0.1');
    c.advance(5 * MIN);
    const fresh = tokens.issue('10.0.0.1');
    expect(Buffer.from(fresh).equals(Buffer.from(old))).toBe(false);
    expect(tokens.check('10.0.0.1', old)).toBe(true);
    expect(tokens.check('10.0.0.1', fresh)).toBe(true);
    c.advance(5 * MIN);
    expect(tokens.check('10.0.0.1', old)).toBe(false);
    expect(tokens.check('10.0.0.1', fresh)).toBe(true);
  });

  it('forgets both secrets after a long quiet spell', () => {
    const c = clock();
    const tokens = new TokenSecrets({ now: c.now });
    const tok = tokens.issue('10.0.0.1');
    c.advance(11 * MIN);
    expect(tokens.check('10.0.0.1', tok)).toBe(false);
  });
});

describe('PeerStore', () => {
  it('keeps at most maxPeersPerTorrent per torrent, dropping the oldest announce', () => {
    const c = clock();
    const store = new PeerStore({ maxPeersPerTorrent: 3, now: c.now });
    const ih = randomNodeId();
    for (let i = 1; i <= 5; i++) {
      store.add(ih, { host: `10.0.0.${i}`, port: 1000 + i });
      c.advance(1);
    }
    expect(store.peerCount).toBe(3);
    expect(store.get(ih).map((p) => p.host)).toEqual(['10.0.0.5', '10.0.0.4', '10.0.0.3']);
    // A re-announce refreshes the peer, so it is no longer the oldest.
    store.add(ih, { host: '10.0.0.3', port: 1003 });
    store.add(ih, { host: '10.0.0.6', port: 1006 });
    expect(store.get(ih).map((p) => p.host).sort()).toEqual(['10.0.0.3', '10.0.0.5', '10.0.0.6']);
    expect(store.peerCount).toBe(3);
  });

  it('keeps at most maxTorrents, dropping the one announced to longest ago', () => {
    const c = clock();
    const store = new PeerStore({ maxTorrents: 2, now: c.now });
    const [a, b, d] = [randomNodeId(), randomNodeId(), randomNodeId()];
    store.add(a, { host: '10.0.0.1', port: 1 });
    store.add(b, { host: '10.0.0.2', port: 2 });
    store.add(b, { host: '10.0.0.3', port: 3 });
    store.add(a, { host: '10.0.0.4', port: 4 }); // a is now the most recent
    store.add(d, { host: '10.0.0.5', port: 5 });
    expect(store.torrentCount).toBe(2);
    expect(store.get(b)).toEqual([]);
    expect(store.get(a).length).toBe(2);
    expect(store.peerCount).toBe(3);
  });

  it('forgets peers 30 minutes after their last announce', () => {
    const c = clock();
    const store = new PeerStore({ now: c.now });
    const ih = randomNodeId();
    store.add(ih, { host: '10.0.0.1', port: 1 });
    c.advance(20 * MIN);
    store.add(ih, { host: '10.0.0.2', port: 2 });
    c.advance(10 * MIN);
    expect(store.get(ih)).toEqual([{ host: '10.0.0.2', port: 2 }]);
    c.advance(20 * MIN);
    store.expire();
    expect(store.torrentCount).toBe(0);
    expect(store.peerCount).toBe(0);
  });

  it('hands out peers of the asked family only', () => {
    const store = new PeerStore();
    const ih = randomNodeId();
    store.add(ih, { host: '10.0.0.1', port: 1 });
    store.add(ih, { host: '2001:db8::1', port: 2 });
    expect(store.get(ih, { family: 4 })).toEqual([{ host: '10.0.0.1', port: 1 }]);
    expect(store.get(ih, { family: 6 })).toEqual([{ host: '2001:db8::1', port: 2 }]);
  });
});

describe('QueryRateLimiter', () => {
  it('gives each address its burst, refills over time, and shares a global bucket', () => {
    const c = clock();
    const limiter = new QueryRateLimiter({ perAddress: { perSecond: 2, burst: 3 }, global: { perSecond: 100, burst: 5 }, now: c.now });
    const a = Array.from({ length: 5 }, () => limiter.allow('10.0.0.1'));
    expect(a).toEqual([true, true, true, false, false]);
    expect(limiter.allow('10.0.0.2')).toBe(true);
    expect(limiter.allow('10.0.0.2')).toBe(true);
    // The global burst (5) is spent; a third address waits for it to refill.
    expect(limiter.allow('10.0.0.3')).toBe(false);
    c.advance(500);
    expect(limiter.allow('10.0.0.1')).toBe(true); // one token back after 0.5 s at 2/s
    expect(limiter.allow('10.0.0.1')).toBe(false);
  });

  it('tracks a bounded number of addresses', () => {
    const limiter = new QueryRateLimiter({ maxTracked: 100, global: { perSecond: 1e9, burst: 1e9 } });
    for (let i = 0; i < 10_000; i++) limiter.allow(`10.0.${i >> 8}.${i & 255}`);
    expect((limiter as unknown as { buckets: Map<string, unknown> }).buckets.size).toBe(100);
  });
});
