import { describe, expect, it } from 'vitest';
import {
  applyConfigPatch,
  applyTorrentPatch,
  defaultFleetConfig,
  defaultTorrentSettings,
  normalizeSavePath,
  putCategory,
  SettingsError,
  DEFAULT_SEED_REPLICAS,
  shareRatio,
  USE_GLOBAL,
  ZERO_TOTALS,
} from '../src/index.js';
import { decodeFleetConfig, decodeTorrentSettings } from '../src/settings-codec.js';

const ctx = { config: putCategory(defaultFleetConfig(), 'tv', 'media/tv', '/data', 'create'), fileCount: 3 };

function ruleOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof SettingsError) return e.rule;
    throw e;
  }
  return undefined;
}

describe('settings rules', () => {
  it('applies a patch and leaves the rest', () => {
    const s = applyTorrentPatch(defaultTorrentSettings(5), { category: 'tv', tags: ['a', ' b ', 'a'], limits: { upload: 1000 }, share: { ratio: 1.5 }, files: [{ indices: [1], priority: 'skip' }] }, ctx);
    expect(s).toMatchObject({ category: 'tv', tags: ['a', 'b'], limits: { download: 0, upload: 1000 }, share: { ratio: 1.5, seedingMinutes: USE_GLOBAL }, queueKey: 5, filePriorities: ['normal', 'skip', 'normal'] });
    const t = applyTorrentPatch(s, { addTags: ['c'], removeTags: ['a'], files: [{ indices: [1], priority: 'normal' }] }, ctx);
    expect(t.tags).toEqual(['b', 'c']);
    // All normal again is stored as none.
    expect(t.filePriorities).toEqual([]);
  });

  it('refuses bad values with the rule they break', () => {
    const s = defaultTorrentSettings(1);
    expect(ruleOf(() => applyTorrentPatch(s, { limits: { download: -1 } }, ctx))).toBe('speed-limit');
    expect(ruleOf(() => applyTorrentPatch(s, { limits: { upload: 1.5 } }, ctx))).toBe('speed-limit');
    expect(ruleOf(() => applyTorrentPatch(s, { share: { ratio: -3 } }, ctx))).toBe('share-limit');
    expect(ruleOf(() => applyTorrentPatch(s, { share: { ratio: Number.NaN } }, ctx))).toBe('share-limit');
    expect(ruleOf(() => applyTorrentPatch(s, { category: 'films' }, ctx))).toBe('unknown-category');
    expect(ruleOf(() => applyTorrentPatch(s, { tags: ['a,b'] }, ctx))).toBe('tag');
    expect(ruleOf(() => applyTorrentPatch(s, { files: [{ indices: [3], priority: 'high' }] }, ctx))).toBe('file-index');
    expect(ruleOf(() => applyTorrentPatch(s, { files: [{ indices: [0], priority: 'urgent' as 'high' }] }, ctx))).toBe('file-priority');
    expect(ruleOf(() => applyConfigPatch(defaultFleetConfig(), { share: { ratio: USE_GLOBAL } }))).toBe('share-limit');
    expect(ruleOf(() => applyConfigPatch(defaultFleetConfig(), { queue: { maxActiveDownloads: -2 } }))).toBe('queue-limit');
    expect(ruleOf(() => applyConfigPatch(defaultFleetConfig(), { shareAction: 'explode' as 'pause' }))).toBe('share-action');
    expect(ruleOf(() => applyConfigPatch(defaultFleetConfig(), { encryption: 'sometimes' as 'prefer' }))).toBe('encryption');
    expect(ruleOf(() => putCategory(ctx.config, 'tv', 'x', '/data', 'create'))).toBe('category-exists');
    expect(ruleOf(() => putCategory(ctx.config, 'films', 'x', '/data', 'edit'))).toBe('unknown-category');
    expect(ruleOf(() => putCategory(ctx.config, '/x', 'x', '/data', 'upsert'))).toBe('category-name');
  });

  it('sets the fleet encryption policy; absent until set, each process then keeping its own', () => {
    const d = defaultFleetConfig();
    expect(d.encryption).toBeUndefined();
    const c = applyConfigPatch(d, { encryption: 'require' });
    expect(c.encryption).toBe('require');
    // Other changes leave it.
    expect(applyConfigPatch(c, { altSpeedEnabled: true }).encryption).toBe('require');
    expect(applyConfigPatch(c, { encryption: 'disable' }).encryption).toBe('disable');
    // Stored and read back; an unknown or mistyped value reads as unset.
    expect(decodeFleetConfig(JSON.parse(JSON.stringify(c)) as unknown).encryption).toBe('require');
    for (const odd of ['sometimes', 1, null, true]) expect(decodeFleetConfig({ encryption: odd })).not.toHaveProperty('encryption');
    expect(decodeFleetConfig({}).encryption).toBeUndefined();
  });

  it('sets the workers seeding each complete torrent, public and private, 0 for all; absent until set, read as 2 and 1', () => {
    const d = defaultFleetConfig();
    expect(d.seedReplicas).toBeUndefined();
    expect(DEFAULT_SEED_REPLICAS).toEqual({ public: 2, private: 1 });
    const c = applyConfigPatch(d, { seedReplicas: 3, privateSeedReplicas: 0 });
    expect(c).toMatchObject({ seedReplicas: 3, privateSeedReplicas: 0 });
    expect(applyConfigPatch(c, { dht: false })).toMatchObject({ seedReplicas: 3, privateSeedReplicas: 0 });
    for (const bad of [-1, 1.5, 1001, Number.NaN]) expect(ruleOf(() => applyConfigPatch(d, { seedReplicas: bad }))).toBe('seed-replicas');
    expect(decodeFleetConfig(JSON.parse(JSON.stringify(c)) as unknown)).toMatchObject({ seedReplicas: 3, privateSeedReplicas: 0 });
    for (const odd of ['2', -1, 2.5, null, 5000]) expect(decodeFleetConfig({ seedReplicas: odd })).not.toHaveProperty('seedReplicas');
  });

  it('switches DHT fleet-wide, off and on; absent until set, each process then keeping its own SEEDBOX_DHT', () => {
    const d = defaultFleetConfig();
    expect(d.dht).toBeUndefined();
    const off = applyConfigPatch(d, { dht: false });
    expect(off.dht).toBe(false);
    // Other changes leave it; off is kept, not read as unset.
    expect(applyConfigPatch(off, { encryption: 'require' }).dht).toBe(false);
    expect(applyConfigPatch(off, { dht: true }).dht).toBe(true);
    // Stored and read back both ways; anything but a boolean reads as unset.
    expect(decodeFleetConfig(JSON.parse(JSON.stringify(off)) as unknown).dht).toBe(false);
    expect(decodeFleetConfig({ dht: true }).dht).toBe(true);
    for (const odd of ['false', 0, 1, null, {}]) expect(decodeFleetConfig({ dht: odd })).not.toHaveProperty('dht');
    expect(decodeFleetConfig({})).not.toHaveProperty('dht');
  });

  it('keeps save folders inside the data folder', () => {
    expect(normalizeSavePath('tv/show', '/data')).toBe('tv/show');
    expect(normalizeSavePath('/data/tv/./show/', '/data')).toBe('tv/show');
    expect(normalizeSavePath('/data', '/data')).toBe('');
    expect(normalizeSavePath('tv/../films', '/data')).toBe('films');
    for (const bad of ['../x', '/etc', '/data/../etc', 'tv/../../x', '/database', '.seedbox/x']) expect(ruleOf(() => normalizeSavePath(bad, '/data'))).toBe('save-path');
  });

  it('reads stored settings field by field, an odd value taking its default', () => {
    const d = defaultTorrentSettings(9);
    const s = decodeTorrentSettings({ category: 7, tags: ['a', 3, 'a'], limits: { download: -5, upload: 10 }, share: { ratio: -7, seedingMinutes: 30 }, filePriorities: ['skip', 'bogus'] }, d);
    expect(s).toMatchObject({ category: '', tags: ['a'], limits: { download: 0, upload: 10 }, share: { ratio: USE_GLOBAL, seedingMinutes: 30 }, queueKey: 9, filePriorities: [] });
    const c = decodeFleetConfig({ speed: { download: 100 }, queue: { enabled: 'yes', maxActiveSeeds: -1 }, shareAction: 'remove', categories: { tv: { savePath: 'tv' }, bad: 3 } });
    expect(c.speed.download).toBe(100);
    expect(c.queue.enabled).toBe(false);
    expect(c.queue.maxActiveSeeds).toBe(-1);
    expect(c.shareAction).toBe('remove');
    expect(c.categories).toEqual({ tv: { savePath: 'tv' } });
  });

  it('counts a torrent added complete as its size downloaded', () => {
    expect(shareRatio({ ...ZERO_TOTALS, uploaded: 2000 }, 1000)).toBe(2);
    expect(shareRatio({ ...ZERO_TOTALS, uploaded: 2000, downloaded: 500 }, 1000)).toBe(4);
    expect(shareRatio(ZERO_TOTALS, 0)).toBe(0);
  });
});
