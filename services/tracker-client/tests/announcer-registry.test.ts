import { describe, expect, it } from 'vitest';
import { AnnouncerRegistry } from '../src/announcer-registry.js';
import type { AnnouncerEntry } from '../src/tracker-client-types.js';

/**
 * The TrackerClient's announcers, by torrent: found by (torrent, worker),
 * listed by torrent and by worker, and lists handed out that stay as they
 * were while announcers come and go.
 */

const entry = (infoHashHex: string, workerId: string): AnnouncerEntry => ({ infoHashHex, workerId }) as AnnouncerEntry;

describe('AnnouncerRegistry', () => {
  it('finds an announcer by torrent and worker, and lists them by torrent, by worker and all', () => {
    const r = new AnnouncerRegistry();
    const [a1, b1, a2] = [entry('aa', 'w1'), entry('bb', 'w1'), entry('aa', 'w2')];
    for (const e of [a1, b1, a2]) r.add(e);
    expect(r.size).toBe(3);
    expect(r.get('aa', 'w2')).toBe(a2);
    expect(r.get('aa', 'w3')).toBeUndefined();
    expect(r.get('cc', 'w1')).toBeUndefined();
    expect(r.ofTorrent('aa')).toEqual([a1, a2]);
    expect(r.ofTorrent('cc')).toEqual([]);
    expect(r.ofWorker('w1')).toEqual([a1, b1]);
    expect(r.all()).toEqual([a1, a2, b1]);
    expect([...r.torrents()]).toEqual(['aa', 'bb']);
  });

  it('removes only the very announcer asked, and a list handed out before stays as it was', () => {
    const r = new AnnouncerRegistry();
    const [a1, a2] = [entry('aa', 'w1'), entry('aa', 'w2')];
    r.add(a1);
    r.add(a2);
    const before = r.ofTorrent('aa');
    expect(r.delete(entry('aa', 'w1'))).toBe(false); // the same names, another announcer
    expect(r.delete(a1)).toBe(true);
    expect(r.delete(a1)).toBe(false);
    expect(before).toEqual([a1, a2]);
    expect(r.ofTorrent('aa')).toEqual([a2]);
    expect(r.size).toBe(1);
    expect(r.delete(a2)).toBe(true);
    expect(r.size).toBe(0);
    expect([...r.torrents()]).toEqual([]);
    expect(r.all()).toEqual([]);
  });
});
