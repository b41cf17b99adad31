/**
 * FleetBackend.stats: the figures of the last tick beside the fleet's
 * bitfield. The two move at different times (a piece is recorded when a
 * disk-writer writes it, the figures once a tick), and every API reads
 * state and progress from this one view: a torrent with nothing left must
 * not read "downloading" until its worker's next tick (CI caught Sonarr's
 * Transmission calls seeing leftUntilDone 0 with status 4).
 */
import { describe, expect, it } from 'vitest';
import { Bitfield } from '@seedbox/protocol';
import { FleetBackend, type FleetView } from '../src/fleet/fleet-backend.js';
import { FleetPicture } from '../src/fleet/fleet-picture.js';
import type { StatsSource, TorrentStatsView } from '../src/control/backend.js';
import type { FleetStore } from '@seedbox/cluster';
import { torrentState } from '../src/control/state-codes.js';
import { TorrentState } from '@seedbox/proto';
import { entryFor } from './support/runner-harness.js';

function viewOf(picture: FleetPicture): FleetView {
  return {
    queued: () => false,
    totals: () => undefined,
    doneBytes: (hex) => picture.doneBytes(hex),
    fileDone: (hex) => picture.fileDone(hex),
    done: (hex) => picture.done(hex),
    pieces: (hex) => picture.bitBytes(hex),
    metainfo: (hex) => picture.get(hex)?.meta,
  };
}

function figures(hex: string, over: Partial<TorrentStatsView>): TorrentStatsView {
  return {
    infoHashHex: hex,
    downloadRate: 1000,
    uploadRate: 0,
    downloaded: 3 * 16384,
    uploaded: 0,
    peers: 1,
    seeds: 1,
    peersSending: 1,
    peersGetting: 0,
    piecesVerified: 3,
    piecesFailed: 0,
    pieceCount: 4,
    left: 16384,
    eta: 1,
    complete: false,
    time: 1,
    state: 'downloading',
    ...over,
  };
}

function backendOver(picture: FleetPicture, board: Map<string, TorrentStatsView>): FleetBackend {
  const stats: StatsSource = { get: (hex) => board.get(hex), onTick: () => () => {} };
  return new FleetBackend({
    // stats() reads the board and the runner's view only; nothing here touches the store.
    state: {} as FleetStore,
    stats,
    trackers: { status: () => [], reannounce: async () => 0 },
    peers: { peers: async () => [], addPeers: async () => {} },
    deleteData: async () => {},
    dataDir: '/data',
    fleet: viewOf(picture),
  });
}

function bits(pieces: number[], count = 4): Uint8Array {
  const b = new Bitfield(count);
  for (const p of pieces) b.set(p);
  return b.toBytes();
}

describe('FleetBackend.stats', () => {
  it('reads seeding, nothing left, once the fleet has recorded every piece, before the worker ticks again', () => {
    const picture = new FleetPicture();
    const e = entryFor(1);
    const hex = e.infoHashHex;
    picture.setEntry(hex, e);
    const board = new Map([[hex, figures(hex, {})]]);
    const backend = backendOver(picture, board);

    picture.setBits(hex, bits([0, 1, 2]));
    expect(backend.stats(hex)).toMatchObject({ state: 'downloading', left: 16384 });

    picture.setBits(hex, bits([0, 1, 2, 3]));
    const s = backend.stats(hex)!;
    expect(s).toMatchObject({ state: 'seeding', left: 0, eta: 0 });
    expect(s.fileDone!.reduce((a, b) => a + b, 0)).toBe(picture.get(hex)!.meta.totalLength);
    expect(torrentState({ desired: 'running', error: undefined, queued: false }, s)).toBe(TorrentState.TORRENT_STATE_SEEDING);
  });

  it("keeps the worker's word for every other state: checking, paused, error, or no figures yet", () => {
    const picture = new FleetPicture();
    const e = entryFor(3);
    const hex = e.infoHashHex;
    picture.setEntry(hex, e);
    picture.setBits(hex, bits([0, 1, 2, 3]));
    const board = new Map<string, TorrentStatsView>();
    const backend = backendOver(picture, board);
    expect(backend.stats(hex)).toBeUndefined();
    for (const state of ['checking', 'paused', 'error'] as const) {
      board.set(hex, figures(hex, { state }));
      expect(backend.stats(hex)!.state).toBe(state);
    }
  });
});
