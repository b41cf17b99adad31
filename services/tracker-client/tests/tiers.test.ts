import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TrackerTiers } from '../src/tiers.js';

describe('TrackerTiers (BEP 12)', () => {
  it('keeps the tier order, shuffles within tiers, and drops unusable URLs and repeats', () => {
    const t = new TrackerTiers(
      [['http://a/announce', 'udp://b:1', 'wss://c/announce'], [], ['http://a/announce', 'http://d/announce', 'bogus']],
      () => 0, // j = 0 at every step: a deterministic rotation
    );
    expect(t.tiers).toEqual([['udp://b:1', 'http://a/announce'], ['http://d/announce']]);
    expect(t.skipped).toEqual(['wss://c/announce', 'bogus']);
    expect(t.size).toBe(3);
    expect(t.order()).toEqual([
      { url: 'udp://b:1', tier: 0 },
      { url: 'http://a/announce', tier: 0 },
      { url: 'http://d/announce', tier: 1 },
    ]);
  });

  it('moves the tracker that answered to the front of its tier only', () => {
    const t = new TrackerTiers([['http://a/', 'http://b/', 'http://c/'], ['http://d/', 'http://e/']], () => 0.999);
    expect(t.tiers).toEqual([['http://a/', 'http://b/', 'http://c/'], ['http://d/', 'http://e/']]);
    t.promote('http://c/');
    t.promote('http://e/');
    expect(t.tiers).toEqual([['http://c/', 'http://a/', 'http://b/'], ['http://e/', 'http://d/']]);
    t.promote('http://nowhere/');
    expect(t.size).toBe(5);
  });

  it('a shuffle is a permutation of each tier', () => {
    fc.assert(
      fc.property(fc.array(fc.uniqueArray(fc.nat(50), { maxLength: 6 }), { maxLength: 4 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (tiers, r) => {
        const urls = tiers.map((tier, ti) => tier.map((n) => `http://t${ti}-${n}/`));
        const t = new TrackerTiers(urls, () => r);
        expect(t.tiers.map((tier) => [...tier].sort())).toEqual(urls.filter((u) => u.length > 0).map((tier) => [...tier].sort()));
      }),
    );
  });

  it('spreads the first choice over a tier', () => {
    const first = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const u = new TrackerTiers([['http://a/', 'http://b/', 'http://c/']]).order()[0]!.url;
      first.set(u, (first.get(u) ?? 0) + 1);
    }
    expect(first.size).toBe(3);
  });
});
