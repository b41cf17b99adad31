import type { Socket } from 'node:net';
import type { Bitfield, Metainfo, PeerAddress } from '@seedbox/protocol';
import type { PieceSink } from '@seedbox/cluster';
import type { BandwidthLimits, TorrentBandwidth } from './bandwidth/bandwidth.js';
import type { EncryptionPolicy } from './encryption/encryption-policy.js';
import type { ChokerOptions } from './choker.js';
import type { FileSelection } from './file-selection.js';
import type { CloseReason } from './peer-connection.js';
import type { ConnectionBudget } from './peer-list.js';
import type { PeerSession, SessionTimeouts } from './peer-session.js';
import type { ReadCacheOptions, SpanReader } from './read-cache.js';
import type { PipelineOptions } from './request-pipeline.js';
import type { TorrentState } from './torrent-snapshot.js';

/** What a Torrent is made with and what it tells; the class is in torrent.ts. */

/** What the check on start found: the pieces verified on disk, and how. */
export interface CheckOutcome {
  have: Bitfield;
  /** Resume data was trusted and nothing was read. */
  fastPath: boolean;
  /** Pieces read and hashed. */
  hashed: number;
}

/** Where a torrent's data is, for the torrent: what is there, how to read it, where to leave resume data. */
export interface TorrentData {
  /**
   * Finds the pieces verified on disk now. `force` (a recheck) hashes
   * whatever a record (resume data, the fleet's bitfield) would have let
   * it trust. A throw puts the torrent in `error`.
   */
  check(onProgress: (checked: number, total: number) => void, options: { force: boolean }): Promise<CheckOutcome>;
  /** Reads verified data for seeding; without it we serve nothing. */
  read?: SpanReader | undefined;
  /** The torrent completed, paused or stopped with these pieces verified (a place to save resume data). */
  save?(have: Bitfield): Promise<void>;
}

export interface TorrentOptions {
  meta: Metainfo;
  sink: PieceSink;
  data: TorrentData;
  peerId: Uint8Array;
  /** Check, then wait in `paused` instead of starting. */
  paused?: boolean | undefined;
  /** Which files to fetch and in what order; default every file, rarest first. */
  files?: FileSelection | undefined;
  listenPort?: number | undefined;
  /** Most peer connections at once. Default 50. */
  maxPeers?: number | undefined;
  /**
   * Stop starting new pieces while this many bytes wait for the disk-writer.
   * Default 24 MiB: in the fleet, pieces past SEEDBOX_MAX_PIECES_IN_FLIGHT
   * only queue here, and every queued piece is a buffer held; 64 MiB made
   * the peer-worker's peak RSS 40-60 MiB higher at the same speed (bench
   * leech-1g, docs/BENCHMARKS.md).
   */
  maxWriteBacklogBytes?: number | undefined;
  /** Endgame sends a block to at most this many peers at once. */
  endgameDuplicates?: number | undefined;
  pipeline?: PipelineOptions | undefined;
  timeouts?: Partial<SessionTimeouts> | undefined;
  /** Connection attempts a peer may fail in a row before we stop dialling it. */
  maxDialFailures?: number | undefined;
  readCache?: ReadCacheOptions | undefined;
  choker?: ChokerOptions | undefined;
  /** A peer that sent nothing for this long while we waited on its requests is snubbed, s. */
  snubSeconds?: number | undefined;
  /** The torrent's own speed limits, bytes/s (0 or left out: none); under the engine's. */
  limits?: BandwidthLimits | undefined;
  /** The torrent's buckets under the engine's (the engine makes them); without it the torrent has buckets of its own. */
  bandwidth?: TorrentBandwidth | undefined;
  /** The process's connection budget, shared by every torrent of an engine. */
  connections?: ConnectionBudget | undefined;
  /** Opens a TCP connection; injectable for tests. */
  connect?: ((peer: PeerAddress) => Socket) | undefined;
  /** How peers are dialled (read at each dial; the engine's policy). Default: plain. */
  encryption?: (() => EncryptionPolicy) | undefined;
  now?: () => number;
}

export interface TorrentEvents {
  state: [state: TorrentState];
  checked: [outcome: CheckOutcome];
  piece: [index: number];
  /** Every wanted piece is verified (every piece, unless files are skipped): the torrent now seeds. */
  complete: [];
  error: [error: Error];
  closed: [session: PeerSession, reason: CloseReason, error: Error | undefined];
  /**
   * Something may have changed the snapshot of a `dormant` torrent (a state,
   * a session opened or closed, a piece, the file selection): its ticks are
   * due again. See Torrent.dormant.
   */
  wake: [];
}
