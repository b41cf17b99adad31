import { describe, expect, it } from 'vitest';
import { defaultFleetConfig, defaultTorrentSettings, NO_LIMIT, ZERO_TOTALS, type QueueConfig } from '@seedbox/cluster';
import { activeTorrents, shareLimitReached, SlowWatch, type QueueCandidate } from '../src/fleet/fleet-policy.js';

const q = (over: Partial<QueueConfig> = {}): QueueConfig => ({ ...defaultFleetConfig().queue, enabled: true, maxActiveDownloads: 2, maxActiveSeeds: 1, maxActiveTorrents: 3, ...over });
const t = (hex: string, queueKey: number, complete = false, extra: Partial<QueueCandidate> = {}): QueueCandidate => ({ infoHashHex: hex, settings: { queueKey, forceStart: false }, complete, slow: false, ...extra });

describe('the queue', () => {
  it('lets every running torrent be active with queueing off', () => {
    expect(activeTorrents([t('a', 1), t('b', 2), t('c', 3)], q({ enabled: false }))).toEqual(new Set(['a', 'b', 'c']));
  });

  it('starts downloads and seeds in queue order up to their limits and the total', () => {
    const all = [t('d3', 3), t('d1', 1), t('s1', 0, true), t('s2', 4, true), t('d2', 2)];
    expect(activeTorrents(all, q())).toEqual(new Set(['s1', 'd1', 'd2']));
    expect(activeTorrents(all, q({ maxActiveTorrents: 2 }))).toEqual(new Set(['s1', 'd1']));
    expect(activeTorrents(all, q({ maxActiveDownloads: -1, maxActiveTorrents: -1 }))).toEqual(new Set(['s1', 'd1', 'd2', 'd3']));
  });

  it('runs a force-started torrent whatever the queue, counting it against nothing', () => {
    const all = [t('d1', 1), t('d2', 2), t('d3', 3, false, { settings: { queueKey: 3, forceStart: true } })];
    expect(activeTorrents(all, q({ maxActiveDownloads: 1 }))).toEqual(new Set(['d1', 'd3']));
  });

  it('leaves slow torrents out of the count, so the next one starts', () => {
    const all = [t('d1', 1, false, { slow: true }), t('d2', 2), t('d3', 3)];
    expect(activeTorrents(all, q({ maxActiveDownloads: 1 }))).toEqual(new Set(['d1', 'd2']));
    expect(activeTorrents(all, q({ maxActiveDownloads: 1, ignoreSlow: false }))).toEqual(new Set(['d1']));
  });

  it('calls a torrent slow once it stayed under both thresholds for the set time', () => {
    const w = new SlowWatch();
    const c = q({ slowDownloadRate: 100, slowUploadRate: 100, slowSeconds: 10 });
    expect(w.observe('a', 50, 0, c, 0)).toBe(false);
    expect(w.observe('a', 50, 0, c, 9_000)).toBe(false);
    expect(w.observe('a', 50, 0, c, 10_000)).toBe(true);
    expect(w.observe('a', 50, 500, c, 11_000)).toBe(false);
    expect(w.isSlow('a', c, 30_000)).toBe(false);
  });
});

describe('seeding rules', () => {
  const config = { ...defaultFleetConfig(), share: { ratio: 2, seedingMinutes: NO_LIMIT, inactiveMinutes: NO_LIMIT } };
  const facts = (uploaded: number, own = defaultTorrentSettings(0).share, extra = {}) => ({
    settings: { share: own },
    totals: { ...ZERO_TOTALS, uploaded, completedAt: 1, ...extra },
    doneBytes: 1000,
    complete: true,
  });

  it('reaches the global ratio, and a torrent of its own overrides it', () => {
    expect(shareLimitReached(facts(1999), config, 0)).toBeUndefined();
    expect(shareLimitReached(facts(2000), config, 0)).toBe('ratio');
    expect(shareLimitReached(facts(2000, { ratio: NO_LIMIT, seedingMinutes: -2, inactiveMinutes: -2 }), config, 0)).toBeUndefined();
    expect(shareLimitReached(facts(500, { ratio: 0.5, seedingMinutes: -2, inactiveMinutes: -2 }), config, 0)).toBe('ratio');
  });

  it('reaches seeding time and inactive time; an incomplete torrent reaches nothing', () => {
    const own = { ratio: NO_LIMIT, seedingMinutes: 10, inactiveMinutes: 5 };
    expect(shareLimitReached(facts(0, own, { seedingMs: 10 * 60_000 }), config, 0)).toBe('seeding-time');
    expect(shareLimitReached(facts(0, own, { lastActivityAt: 1000 }), config, 1000 + 5 * 60_000)).toBe('inactive-time');
    expect(shareLimitReached(facts(0, own, { lastActivityAt: 1000 }), config, 1000 + 4 * 60_000)).toBeUndefined();
    expect(shareLimitReached({ ...facts(5000), complete: false }, config, 0)).toBeUndefined();
  });
});
