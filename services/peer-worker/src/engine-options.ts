import type { PeerAddress } from '@seedbox/protocol';
import type { PieceSink } from '@seedbox/cluster';
import type { BandwidthLimits } from './bandwidth/bandwidth.js';
import type { EncryptionPolicy } from './encryption/encryption-policy.js';
import type { EngineTick } from './engine-tick.js';
import type { FileSelection } from './file-selection.js';
import type { PeerDiscovery } from './peer-discovery.js';
import type { ListenerOptions } from './peer-listener.js';
import type { TorrentData, TorrentOptions } from './torrent-options.js';

/** What an Engine is made with and what it tells; the class is in engine.ts. */

/** Settings every torrent of the engine shares. */
export type TorrentDefaults = Omit<TorrentOptions, 'meta' | 'sink' | 'data' | 'peerId' | 'paused' | 'files' | 'listenPort' | 'connections' | 'limits' | 'bandwidth' | 'encryption'>;

export interface EngineOptions {
  sink: PieceSink;
  peerId?: Uint8Array | undefined;
  /** Where to accept peers; false for none. Default: every address, a free port. */
  listen?: { host?: string | undefined; port?: number | undefined } | false;
  /**
   * Peer connections of the whole process, every torrent's sessions and
   * those still handshaking (libtorrent's `connections_limit`): incoming
   * ones past it are refused, and no more are dialled. Default 500.
   */
  maxConnections?: number | undefined;
  /**
   * Message stream encryption (MSE/PE) for every connection: 'prefer'
   * (the default), 'require' or 'disable'; see encryption/encryption-policy.ts.
   * Changed at run time with setEncryption (new connections follow it).
   */
  encryption?: EncryptionPolicy | undefined;
  /** The listener's own limits (see peer-listener.ts). */
  incoming?: Pick<ListenerOptions, 'handshakeTimeoutMs' | 'maxHandshaking' | 'maxPerIp' | 'onRefused' | 'onError'> | undefined;
  /**
   * How peers are found; made once the engine listens, since what it
   * announces (the port) is known only then.
   */
  discovery?: ((self: { peerId: Uint8Array; listenPort: number | undefined }) => PeerDiscovery) | undefined;
  torrent?: TorrentDefaults | undefined;
  /**
   * Engine-wide speed limits, bytes/s, shared by every torrent (0 or left
   * out: none). Changed at run time with setLimits; see bandwidth/.
   */
  limits?: BandwidthLimits | undefined;
  tickMs?: number;
}

export interface AddTorrentOptions {
  data: TorrentData;
  /** Check, then wait paused. */
  paused?: boolean | undefined;
  /** Peers to dial beside those discovery finds. */
  peers?: readonly PeerAddress[] | undefined;
  /**
   * Which files to fetch (per-file `skip` | `normal` | `high`, one per
   * entry of `meta.files`), sequential order, first and last piece first.
   * Changed later with the Torrent's setFilePriorities, setSequential and
   * setFirstLastPiece. Priorities that do not fit throw a FileSelectionError.
   */
  files?: FileSelection | undefined;
  /** The torrent's own speed limits, bytes/s, under the engine's (0 or left out: none). */
  limits?: BandwidthLimits | undefined;
}

/** The limits an engine's connections are held to (see EngineOptions and peer-listener.ts). */
export interface ConnectionLimits {
  maxConnections: number;
  maxHandshaking: number;
  maxPerIp: number;
  handshakeTimeoutMs: number;
}

export interface EngineEvents {
  /** Once a second, after the clock moved every torrent that is awake (see EngineTick). */
  tick: [tick: EngineTick];
}
