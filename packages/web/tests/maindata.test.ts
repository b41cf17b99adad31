import { describe, expect, it } from 'vitest';
import { blankTorrent, mergeMaindata, torrentTags, type SyncState } from '../src/app/maindata.js';
import type { MaindataResponse, Torrent } from '../src/app/types.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

function full(): MaindataResponse {
  return {
    rid: 1,
    full_update: true,
    torrents: {
      [A]: { ...blankTorrent(A), name: 'alpha', progress: 0.5, dlspeed: 1000, state: 'downloading', category: 'tv' },
      [B]: { ...blankTorrent(B), name: 'beta', progress: 1, state: 'stalledUP' },
    },
    categories: { tv: { name: 'tv', savePath: 'media/tv' } },
    tags: ['x'],
    server_state: { dl_info_speed: 1000, up_info_speed: 0, refresh_interval: 1000 },
  };
}

describe('sync/maindata merging', () => {
  it('takes a full update as the whole state, hashes put back into the torrents', () => {
    const s = mergeMaindata(undefined, full());
    expect(s.rid).toBe(1);
    expect([...s.torrents.keys()]).toEqual([A, B]);
    expect(s.torrents.get(A)).toMatchObject({ hash: A, name: 'alpha', progress: 0.5, category: 'tv' });
    expect(s.categories).toEqual({ tv: { name: 'tv', savePath: 'media/tv' } });
    expect(s.tags).toEqual(['x']);
    expect(s.server.dl_info_speed).toBe(1000);
    // Keys the server did not send keep the defaults.
    expect(s.server.free_space_on_disk).toBe(-1);
  });

  it('applies a diff: changed keys only, the other torrents kept as the same objects', () => {
    const s1 = mergeMaindata(undefined, full());
    const s2 = mergeMaindata(s1, { rid: 2, torrents: { [A]: { progress: 0.75, dlspeed: 2000 } }, server_state: { dl_info_speed: 2000 } });
    expect(s2.rid).toBe(2);
    expect(s2.torrents.get(A)).toMatchObject({ name: 'alpha', progress: 0.75, dlspeed: 2000, state: 'downloading', category: 'tv' });
    expect(s2.torrents.get(B)).toBe(s1.torrents.get(B));
    expect(s2.server).toMatchObject({ dl_info_speed: 2000, refresh_interval: 1000 });
    // The old state is not touched.
    expect(s1.torrents.get(A)!.progress).toBe(0.5);
  });

  it('adds a torrent first seen in a diff with defaults for the keys it lacks', () => {
    const s = mergeMaindata(mergeMaindata(undefined, full()), { rid: 2, torrents: { [C]: { name: 'gamma', state: 'metaDL' } } });
    const c = s.torrents.get(C) as Torrent;
    expect(c).toMatchObject({ hash: C, name: 'gamma', state: 'metaDL', progress: 0, tags: '', category: '' });
  });

  it('removes torrents, categories and tags the diff names, and adds new ones', () => {
    const s1 = mergeMaindata(undefined, full());
    const s2 = mergeMaindata(s1, {
      rid: 3,
      torrents_removed: [B],
      categories: { movies: { name: 'movies', savePath: '' }, tv: { savePath: 'tv2' } },
      categories_removed: [],
      tags: ['y', 'x'],
      tags_removed: [],
    });
    expect([...s2.torrents.keys()]).toEqual([A]);
    expect(s2.categories).toEqual({ tv: { name: 'tv', savePath: 'tv2' }, movies: { name: 'movies', savePath: '' } });
    expect(s2.tags).toEqual(['x', 'y']);
    const s3 = mergeMaindata(s2, { rid: 4, categories_removed: ['tv'], tags_removed: ['x'] });
    expect(Object.keys(s3.categories)).toEqual(['movies']);
    expect(s3.tags).toEqual(['y']);
  });

  it('starts again from a new full update, forgetting what it does not list', () => {
    const s1 = mergeMaindata(mergeMaindata(undefined, full()), { rid: 2, torrents: { [C]: { name: 'gamma' } } });
    const s2 = mergeMaindata(s1, { rid: 9, full_update: true, torrents: { [C]: { ...blankTorrent(C), name: 'gamma' } }, categories: {}, tags: [] });
    expect([...s2.torrents.keys()]).toEqual([C]);
    expect(s2.categories).toEqual({});
    expect(s2.tags).toEqual([]);
    expect(s2.rid).toBe(9);
  });

  it('reads a first answer without full_update as a full one', () => {
    const s: SyncState = mergeMaindata(undefined, { rid: 5, torrents: { [A]: { name: 'alpha' } } });
    expect(s.torrents.get(A)!.name).toBe('alpha');
  });

  it('splits qBittorrent tag lists', () => {
    expect(torrentTags({ tags: 'a, b c,  d' })).toEqual(['a', 'b c', 'd']);
    expect(torrentTags({ tags: '' })).toEqual([]);
  });
});
