import type { Metainfo } from '@seedbox/protocol';
import type { AnnounceSuccess, TrackerWarning } from './announcer.js';
import type { PeerFeed } from './peer-feed.js';
import { TrackerClient, type TrackerClientOptions, type WorkerTorrentStats } from './tracker-client.js';

/**
 * Embedded mode (`seedbox download`): the tracker-client in the same process
 * as one peer-worker. It runs the very TrackerClient the fleet runs; the
 * "heartbeat" is a poll of the worker's figures once a second instead of a
 * NATS message, so both modes share every line of announce logic.
 */
export interface EmbeddedTrackerOptions extends Omit<TrackerClientOptions, 'peerFeed'> {
  metainfo: Pick<Metainfo, 'infoHash' | 'announce'>;
  /** The peer id the worker handshakes with. */
  peerId: Uint8Array;
  /** The worker's listening port. */
  port: number;
  /** The address to announce; omit it to let trackers use our source address. */
  host?: string;
  /** The worker's current figures for this torrent (e.g. from its last TorrentTick). */
  stats: () => WorkerTorrentStats;
  /** Where found peers go, e.g. `{ peersFound: (_, peers) => torrent.addPeers(peers) }`. */
  peerFeed: PeerFeed;
  /** How often `stats` is read. Default 1 s (the worker's tick). */
  pollMs?: number;
}

export interface EmbeddedTracker {
  client: TrackerClient;
  /** `stopped` to the trackers (bounded by timing.stopTimeoutMs), then closes the sockets. */
  stop(): Promise<void>;
}

export const EMBEDDED_WORKER_ID = 'embedded';

export function startEmbeddedTracker(opts: EmbeddedTrackerOptions): EmbeddedTracker {
  const { metainfo, peerId, port, host, stats, pollMs = 1000, ...clientOptions } = opts;
  const client = new TrackerClient(clientOptions);
  const infoHashHex = Buffer.from(metainfo.infoHash).toString('hex');
  const beat = (): void => {
    client.heartbeat({
      workerId: EMBEDDED_WORKER_ID,
      peerId,
      port,
      ...(host !== undefined ? { host } : {}),
      torrents: { [infoHashHex]: stats() },
    });
  };
  client.addTorrent({ infoHash: metainfo.infoHash, announce: metainfo.announce });
  beat();
  const timer = setInterval(() => {
    try {
      beat();
    } catch (e) {
      // The next poll tries again; announces keep the last figures meanwhile.
      opts.onWarning?.({ kind: 'all-failed', infoHashHex, message: `reading the worker's figures failed: ${String(e)}`, error: e as Error });
    }
  }, pollMs);
  let stopping: Promise<void> | undefined;
  return {
    client,
    stop: () => {
      clearInterval(timer);
      stopping ??= client.stop();
      return stopping;
    },
  };
}

export type { AnnounceSuccess, TrackerWarning };
