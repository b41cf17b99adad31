import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodePeerAnswer, decodeTrackerStatuses, encodePeerAnswer, encodeTrackerStatuses, MAX_TRACKER_MESSAGE, MAX_TRACKERS_PER_TORRENT, type PeerInfo, type TrackerStatus } from '../src/index.js';

const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

const working: TrackerStatus = { url: 'http://t.test/announce', lastAnnounceStartAt: 10, lastAnnounceAt: 20, ok: true, peers: 3, seeders: 4, leechers: 5, downloaded: 6, lastSuccessAt: 20, nextAnnounceAt: 1820 };
const refused: TrackerStatus = { url: 'udp://u.test:80', lastAnnounceStartAt: 30, lastAnnounceAt: 40, ok: false, failure: 'refused', error: 'Unregistered torrent' };

describe('tracker statuses in the bucket', () => {
  it('round-trip, without the fields left undefined', () => {
    expect(decodeTrackerStatuses(encodeTrackerStatuses([working, refused, { ...refused, url: 'x', warning: undefined }]))).toEqual([working, refused, { ...refused, url: 'x' }]);
  });

  it('leave out an entry that does not fit and drop an odd field, keeping the rest', () => {
    const stored = {
      v: 1,
      trackers: [
        working,
        { ...refused, url: '' },
        { ...refused, lastAnnounceAt: -1 },
        { ...refused, ok: 'no' },
        'not an entry',
        { ...refused, failure: 'exploded', seeders: -4, error: 7 },
        { ...working, url: 'y', warning: 'w'.repeat(5000) },
      ],
    };
    expect(decodeTrackerStatuses(enc(stored))).toEqual([
      working,
      { url: 'udp://u.test:80', lastAnnounceStartAt: 30, lastAnnounceAt: 40, ok: false },
      { ...working, url: 'y', warning: 'w'.repeat(MAX_TRACKER_MESSAGE) },
    ]);
  });

  it('read anything else as no trackers, and never take more than the cap', () => {
    for (const bad of [new Uint8Array(0), enc({ v: 2, trackers: [working] }), enc([working]), enc({ v: 1, trackers: 'x' }), new TextEncoder().encode('{"v":1,')]) {
      expect(decodeTrackerStatuses(bad)).toEqual([]);
    }
    const many = Array.from({ length: MAX_TRACKERS_PER_TORRENT + 50 }, (_, i) => ({ ...working, url: `http://t${i}.test/` }));
    expect(decodeTrackerStatuses(enc({ v: 1, trackers: many }))).toHaveLength(MAX_TRACKERS_PER_TORRENT);
    expect(decodeTrackerStatuses(encodeTrackerStatuses(many))).toHaveLength(MAX_TRACKERS_PER_TORRENT);
    for (let i = 0; i < 500; i++) expect(Array.isArray(decodeTrackerStatuses(randomBytes(64)))).toBe(true);
  });
});

const peer: PeerInfo = {
  host: '10.0.0.9',
  port: 51413,
  client: 'libtorrent/2.0.8.0',
  peerIdClient: 'libtorrent (Rasterbar) 2.0.8',
  incoming: false,
  amChoking: true,
  amInterested: true,
  peerChoking: false,
  peerInterested: false,
  optimistic: false,
  snubbed: false,
  progress: 1,
  relevance: 0.5,
  downloadRate: 1000,
  uploadRate: 0,
  downloaded: 4096,
  uploaded: 0,
};

describe("a worker's answer to a peer request", () => {
  it('round-trips, each peer tagged with the worker that holds it', () => {
    expect(decodePeerAnswer(encodePeerAnswer('pw1', [peer]))).toEqual([{ ...peer, workerId: 'pw1' }]);
  });

  it('leaves out a peer that does not fit, clamps shares and amounts, and reads garbage as none', () => {
    const answer = {
      v: 1,
      worker: 'pw2',
      peers: [peer, { ...peer, port: 0 }, { ...peer, host: 7 }, { ...peer, incoming: 'yes' }, { ...peer, progress: 3, relevance: -1, downloadRate: Number.NaN, uploaded: -5, client: 9 }],
    };
    expect(decodePeerAnswer(enc(answer))).toEqual([
      { ...peer, workerId: 'pw2' },
      { ...peer, progress: 1, relevance: 0, downloadRate: 0, uploaded: 0, client: '', workerId: 'pw2' },
    ]);
    for (const bad of [enc({ v: 1 }), enc({ v: 9, peers: [peer] }), enc('x'), randomBytes(40)]) expect(decodePeerAnswer(bad)).toEqual([]);
  });
});
