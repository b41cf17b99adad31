/** The state a client sees, from the record and the latest figures: one rule per line of torrentState's doc. */
import { describe, expect, it } from 'vitest';
import { TorrentState } from '@seedbox/proto';
import { stateFromProto, stateToProto, torrentState } from '../src/control/state-codes.js';

const running = { desired: 'running' as const, error: undefined, queued: false };
const figures = (f: Partial<{ state: 'checking' | 'downloading' | 'seeding' | 'error'; complete: boolean; downloadRate: number }>) => ({
  state: undefined,
  complete: false,
  downloadRate: 0,
  ...f,
});

describe('torrentState', () => {
  it('paused wins over everything, error and queue included', () => {
    expect(torrentState({ ...running, desired: 'paused', error: 'EACCES', queued: true }, figures({ state: 'error' }))).toBe(TorrentState.TORRENT_STATE_PAUSED);
  });

  it('metadata for a magnet awaiting it, a failed attempt included (it is tried again), unless paused', () => {
    const magnet = { uri: 'magnet:?xt=urn:btih:' + 'ab'.repeat(20), name: 'x', trackers: [], error: 'no peer gave it' };
    expect(torrentState({ ...running, magnet }, undefined)).toBe(TorrentState.TORRENT_STATE_METADATA);
    expect(torrentState({ ...running, queued: true, magnet }, undefined)).toBe(TorrentState.TORRENT_STATE_METADATA);
    expect(torrentState({ ...running, desired: 'paused', magnet }, undefined)).toBe(TorrentState.TORRENT_STATE_PAUSED);
  });

  it('error from the record or the worker, before the queue', () => {
    expect(torrentState({ ...running, error: 'EACCES' }, undefined)).toBe(TorrentState.TORRENT_STATE_ERROR);
    expect(torrentState({ ...running, queued: true }, figures({ state: 'error' }))).toBe(TorrentState.TORRENT_STATE_ERROR);
  });

  it('queued while waiting for a slot, whatever the last figures said', () => {
    expect(torrentState({ ...running, queued: true }, figures({ state: 'downloading', downloadRate: 100 }))).toBe(TorrentState.TORRENT_STATE_QUEUED);
    expect(torrentState({ ...running, queued: true }, undefined)).toBe(TorrentState.TORRENT_STATE_QUEUED);
  });

  it('checking, then seeding once complete', () => {
    expect(torrentState(running, figures({ state: 'checking', complete: true }))).toBe(TorrentState.TORRENT_STATE_CHECKING);
    expect(torrentState(running, figures({ state: 'seeding', complete: true }))).toBe(TorrentState.TORRENT_STATE_SEEDING);
  });

  it('stalled when the worker says downloading and nothing came in over the tick', () => {
    expect(torrentState(running, figures({ state: 'downloading', downloadRate: 0 }))).toBe(TorrentState.TORRENT_STATE_STALLED);
    expect(torrentState(running, figures({ state: 'downloading', downloadRate: Number.NaN }))).toBe(TorrentState.TORRENT_STATE_STALLED);
    expect(torrentState(running, figures({ state: 'downloading', downloadRate: 0.5 }))).toBe(TorrentState.TORRENT_STATE_DOWNLOADING);
  });

  it('downloading before any figures, or from a worker that names no state', () => {
    expect(torrentState(running, undefined)).toBe(TorrentState.TORRENT_STATE_DOWNLOADING);
    expect(torrentState(running, figures({}))).toBe(TorrentState.TORRENT_STATE_DOWNLOADING);
  });
});

describe('engine states and the proto', () => {
  it('round-trip, stopped reading as paused and stalled as downloading', () => {
    for (const s of ['checking', 'downloading', 'seeding', 'paused', 'error'] as const) expect(stateFromProto(stateToProto(s))).toBe(s);
    expect(stateToProto('stopped')).toBe(TorrentState.TORRENT_STATE_PAUSED);
    expect(stateFromProto(TorrentState.TORRENT_STATE_STALLED)).toBe('downloading');
    expect(stateFromProto(TorrentState.TORRENT_STATE_QUEUED)).toBeUndefined();
    expect(stateToProto(undefined)).toBe(TorrentState.TORRENT_STATE_UNSPECIFIED);
  });
});
