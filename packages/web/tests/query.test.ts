import { describe, expect, it } from 'vitest';
import { blankTorrent } from '../src/app/maindata.js';
import { filterCounts, matchesFilter, matchesStatus, NO_FILTER, sortTorrents, toggleSort, visibleTorrents } from '../src/app/query.js';
import type { Torrent, TorrentState } from '../src/app/types.js';

function t(name: string, o: Partial<Torrent> = {}): Torrent {
  return { ...blankTorrent(name.padEnd(40, '0')), name, ...o };
}

const list = [
  t('Ubuntu 24.04', { state: 'downloading', dlspeed: 500, size: 5_000, progress: 0.5, eta: 100, category: 'linux', tags: 'iso, lts', added_on: 3 }),
  t('debian 12', { state: 'stalledUP', size: 4_000, progress: 1, eta: 8_640_000, category: 'linux', tags: 'iso', added_on: 1 }),
  t('film', { state: 'stoppedDL', size: 9_000, progress: 0.1, eta: 8_640_000, category: '', tags: '', added_on: 2 }),
  t('show s01e10', { state: 'error', size: 100, progress: 0, eta: -1, category: 'tv', tags: '', added_on: 4 }),
  t('show s01e9', { state: 'uploading', upspeed: 10, size: 200, progress: 1, eta: 8_640_000, category: 'tv', tags: 'lts', added_on: 5 }),
];

describe('filters', () => {
  it('status filters as qBittorrent’s side panel', () => {
    const names = (f: Parameters<typeof matchesStatus>[1]) => list.filter((x) => matchesStatus(x, f)).map((x) => x.name);
    expect(names('downloading')).toEqual(['Ubuntu 24.04', 'film']);
    expect(names('seeding')).toEqual(['debian 12', 'show s01e9']);
    expect(names('completed')).toEqual(['debian 12', 'show s01e9']);
    expect(names('stopped')).toEqual(['film']);
    expect(names('running')).toEqual(['Ubuntu 24.04', 'debian 12', 'show s01e10', 'show s01e9']);
    expect(names('active')).toEqual(['Ubuntu 24.04', 'show s01e9']);
    expect(names('inactive')).toEqual(['debian 12', 'film', 'show s01e10']);
    expect(names('stalled')).toEqual(['debian 12']);
    expect(names('errored')).toEqual(['show s01e10']);
    // 4.x's paused states count as stopped too.
    expect(matchesStatus(t('x', { state: 'pausedUP' as TorrentState }), 'stopped')).toBe(true);
    // A stalled download that uploads is active.
    expect(matchesStatus(t('x', { state: 'stalledDL', upspeed: 5 }), 'active')).toBe(true);
  });

  it('by category, tag and search words', () => {
    const names = (f: Partial<typeof NO_FILTER>) => list.filter((x) => matchesFilter(x, { ...NO_FILTER, ...f })).map((x) => x.name);
    expect(names({ category: { kind: 'is', name: 'linux' } })).toEqual(['Ubuntu 24.04', 'debian 12']);
    expect(names({ category: { kind: 'none' } })).toEqual(['film']);
    expect(names({ tag: { kind: 'is', name: 'lts' } })).toEqual(['Ubuntu 24.04', 'show s01e9']);
    expect(names({ tag: { kind: 'none' } })).toEqual(['film', 'show s01e10']);
    expect(names({ search: 'SHOW e9' })).toEqual(['show s01e9']);
    expect(names({ search: '  ' })).toHaveLength(5);
    expect(names({ search: 'show', status: 'errored' })).toEqual(['show s01e10']);
  });

  it('counts what each filter would show', () => {
    const c = filterCounts(list);
    expect(c.status.all).toBe(5);
    expect(c.status.downloading).toBe(2);
    expect(c.category.get('linux')).toBe(2);
    expect(c.category.get('')).toBe(1);
    expect(c.tag.get('iso')).toBe(2);
    expect(c.untagged).toBe(2);
  });
});

describe('sorting', () => {
  it('by any column, either way, names in natural order', () => {
    const names = (key: Parameters<typeof sortTorrents>[1]['key'], descending = false) => sortTorrents(list, { key, descending }).map((x) => x.name);
    expect(names('name')).toEqual(['debian 12', 'film', 'show s01e9', 'show s01e10', 'Ubuntu 24.04']);
    expect(names('size', true)).toEqual(['film', 'Ubuntu 24.04', 'debian 12', 'show s01e9', 'show s01e10']);
    expect(names('added_on')).toEqual(['debian 12', 'film', 'Ubuntu 24.04', 'show s01e10', 'show s01e9']);
    expect(names('progress', true).slice(0, 2)).toEqual(['debian 12', 'show s01e9']);
    expect(names('category')).toEqual(['film', 'debian 12', 'Ubuntu 24.04', 'show s01e9', 'show s01e10']);
  });

  it('puts an unknown ETA after every known one, ties by name', () => {
    expect(sortTorrents(list, { key: 'eta', descending: false }).map((x) => x.name)).toEqual(['Ubuntu 24.04', 'debian 12', 'film', 'show s01e9', 'show s01e10']);
  });

  it('does not change its input, and filters then sorts', () => {
    const before = list.map((x) => x.name);
    sortTorrents(list, { key: 'size', descending: true });
    expect(list.map((x) => x.name)).toEqual(before);
    expect(visibleTorrents(list, { ...NO_FILTER, category: { kind: 'is', name: 'tv' } }, { key: 'name', descending: true }).map((x) => x.name)).toEqual(['show s01e10', 'show s01e9']);
  });

  it('a click sorts by the column, a second click turns it round', () => {
    expect(toggleSort({ key: 'name', descending: false }, 'name')).toEqual({ key: 'name', descending: true });
    expect(toggleSort({ key: 'name', descending: false }, 'dlspeed')).toEqual({ key: 'dlspeed', descending: true });
    expect(toggleSort({ key: 'dlspeed', descending: true }, 'category')).toEqual({ key: 'category', descending: false });
  });
});
