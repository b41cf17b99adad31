import { describe, expect, it } from 'vitest';
import { mergePeers, NO_PEERS, sortedPeers } from '../src/app/details/peers.js';
import type { Peer } from '../src/app/types.js';

const peer = (over: Partial<Peer>): Peer => ({ ip: '10.0.0.1', port: 6881, client: 'libtorrent/2.0.8.0', flags: 'D', flags_desc: '', progress: 1, dl_speed: 0, up_speed: 0, downloaded: 0, uploaded: 0, ...over });

describe('merging sync/torrentPeers answers', () => {
  it('takes a full update, then changed keys, new peers and removals', () => {
    let s = mergePeers(undefined, { rid: 5, full_update: true, peers: { '10.0.0.1:6881': peer({}), '10.0.0.2:51413': peer({ ip: '10.0.0.2', port: 51413, client: 'Transmission 3.00' }) } });
    expect(s.rid).toBe(5);
    expect([...s.peers.keys()]).toEqual(['10.0.0.1:6881', '10.0.0.2:51413']);
    s = mergePeers(s, { rid: 9, peers: { '10.0.0.1:6881': { dl_speed: 4096, downloaded: 65536 }, '[::1]:7000': { client: 'aria2/1.36.0', progress: 0.5 } }, peers_removed: ['10.0.0.2:51413'] });
    expect(s.rid).toBe(9);
    expect(s.peers.get('10.0.0.1:6881')).toMatchObject({ client: 'libtorrent/2.0.8.0', dl_speed: 4096, downloaded: 65536 });
    // A peer first seen in a diff still has every field the table reads; its address from the key.
    expect(s.peers.get('[::1]:7000')).toMatchObject({ ip: '::1', port: 7000, client: 'aria2/1.36.0', progress: 0.5, up_speed: 0, flags: '' });
    expect(s.peers.has('10.0.0.2:51413')).toBe(false);
  });

  it('starts again from a full update (a new replica, a forgotten rid) and from no state', () => {
    const before = mergePeers(NO_PEERS, { rid: 1, peers: { 'a:1': peer({}) } });
    expect(before.peers.size).toBe(1);
    expect(mergePeers(before, { rid: 2, full_update: true, peers: { 'b:2': peer({}) } }).peers.has('a:1')).toBe(false);
    expect(mergePeers(undefined, { rid: 3 }).peers.size).toBe(0);
  });

  it('sorts the busiest first, then by address', () => {
    const s = mergePeers(undefined, { rid: 1, full_update: true, peers: { 'c:1': peer({}), 'a:1': peer({}), 'b:1': peer({ up_speed: 10 }), 'd:1': peer({ dl_speed: 100 }) } });
    expect(sortedPeers(s).map(([k]) => k)).toEqual(['d:1', 'b:1', 'a:1', 'c:1']);
  });
});
