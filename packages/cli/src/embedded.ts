import { homedir } from 'node:os';
import { join } from 'node:path';
import { normalizeHost, parseHostPort, type Metainfo } from '@seedbox/protocol';
import { checkPieces, DiskWriter, loadResumeData, makeResumeData, saveResumeData, type TorrentStorage } from '@seedbox/disk-writer';
import { PeerWorker, type PeerAddress, type Torrent, type TorrentTick } from '@seedbox/peer-worker';
import { startEmbeddedTracker, type AnnounceSuccess, type EmbeddedTracker, type TrackerWarning } from '@seedbox/tracker-client';
import { CliError, UsageError } from './cli-error.js';

/** A running tracker-client the download takes over (see magnet.ts). */
export interface TrackerHandover {
  tracker: EmbeddedTracker;
  /** From now on announce `torrent`'s figures and give it the peers found. */
  attach(torrent: Torrent): void;
}

/**
 * The embedded mode: a peer-worker and a disk-writer in this process,
 * joined by the in-process PieceSink, the same interface the cluster joins
 * over NATS. `download` and `seed` are two uses of it.
 */

/** Where resume data lives unless --resume-dir says otherwise. */
export function defaultResumeDir(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'seedbox', 'resume');
}

/** Parses HOST:PORT, with [v6]:port for IPv6. */
export function parsePeerAddress(s: string): PeerAddress {
  const address = parseHostPort(s);
  if (!address) throw new UsageError(`--peer '${s}' is not HOST:PORT`);
  return address;
}

/** Parses [HOST:]PORT. */
export function parseListen(s: string): { host?: string; port: number } {
  const m = /^(?:(.+):)?(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen '${s}' is not [HOST:]PORT`);
  return m[1] ? { host: m[1], port } : { port };
}

export interface EmbeddedOptions {
  meta: Metainfo;
  /** The download folder: files land in DIR/<name>. */
  dir: string;
  resumeDir: string;
  listen: { host?: string; port: number } | undefined;
  maxPeers?: number | undefined;
  noPipelining?: boolean | undefined;
  /** Called while existing data is checked. */
  onCheck?: (checked: number, total: number) => void;
  /**
   * Announce to the torrent's trackers and dial the peers they return.
   * Default true; a torrent without trackers simply has none to announce to.
   */
  trackers?: boolean | undefined;
  /** The address to announce (BEP 3 `ip`); default: the trackers see our source address. */
  announceHost?: string | undefined;
  onTrackerWarning?: (w: TrackerWarning) => void;
  onAnnounce?: (s: AnnounceSuccess) => void;
  /** The peer id to use; a fresh one by default. A magnet's download keeps the one its metadata fetch used. */
  peerId?: Uint8Array | undefined;
  /**
   * A tracker-client already announcing this torrent (a magnet link's, since
   * its metadata fetch): used instead of starting one, so trackers see one
   * client throughout.
   */
  trackerHandover?: TrackerHandover | undefined;
}

export interface Embedded {
  worker: PeerWorker;
  writer: DiskWriter;
  storage: TorrentStorage;
  torrent: Torrent;
  /** Pieces found verified on disk at start, and how. */
  check: { present: number; fastPath: boolean; hashed: number };
  /** The in-process tracker-client, when the torrent has trackers and they are in use. */
  tracker: EmbeddedTracker | undefined;
  /** Stops everything, saving resume data first. */
  stop(): Promise<void>;
}

export async function startEmbedded(o: EmbeddedOptions): Promise<Embedded> {
  if (o.announceHost !== undefined && normalizeHost(o.announceHost) === undefined) {
    throw new UsageError(`--announce-ip '${o.announceHost}' is not an IPv4 or IPv6 address`);
  }
  const writer = new DiskWriter();
  let storage: TorrentStorage;
  try {
    storage = await writer.addTorrent(o.meta, o.dir);
  } catch (e) {
    await writer.close();
    throw new CliError(`cannot use ${o.dir}: ${(e as Error).message}`);
  }
  const resumePath = join(o.resumeDir, `${o.meta.infoHashHex}.json`);
  const check = await checkPieces(storage, {
    hasher: writer.sha1,
    resume: await loadResumeData(resumePath),
    ...(o.onCheck ? { onProgress: o.onCheck } : {}),
  });
  const worker = new PeerWorker({
    sink: writer,
    ...(o.peerId ? { peerId: o.peerId } : {}),
    listen: o.listen ?? { host: '0.0.0.0', port: 0 },
    torrent: {
      ...(o.maxPeers !== undefined ? { maxPeers: o.maxPeers } : {}),
      ...(o.noPipelining ? { pipeline: { disabled: true } } : {}),
    },
  });
  try {
    await worker.start();
  } catch (e) {
    await writer.close();
    throw new CliError(`cannot listen: ${(e as Error).message}`);
  }
  const torrent = worker.addTorrent(o.meta, {
    have: check.have,
    readBlock: (index, begin, length) => storage.readBlock(index, begin, length),
  });
  // The same TrackerClient the fleet runs, fed by this worker's figures
  // instead of NATS heartbeats; the peers it finds are dialled directly.
  o.trackerHandover?.attach(torrent);
  const tracker = o.trackerHandover
    ? o.trackerHandover.tracker
    : o.trackers !== false && worker.listenPort !== undefined && o.meta.announce.some((tier) => tier.length > 0)
      ? startEmbeddedTracker({
          metainfo: o.meta,
          peerId: worker.peerId,
          port: worker.listenPort,
          ...(o.announceHost !== undefined ? { host: o.announceHost } : {}),
          stats: () => torrent.transferTotals(),
          peerFeed: { peersFound: (_hex, peers) => torrent.addPeers(peers) },
          onWarning: o.onTrackerWarning ?? (() => {}),
          ...(o.onAnnounce ? { onAnnounce: o.onAnnounce } : {}),
        })
      : undefined;
  let stopped = false;
  return {
    worker,
    writer,
    storage,
    torrent,
    tracker,
    check: { present: check.have.count, fastPath: check.fastPath, hashed: check.hashed },
    async stop() {
      if (stopped) return;
      stopped = true;
      // `stopped` goes out first (bounded by the stop deadline), with the
      // final figures, while the sessions are still counted.
      await tracker?.stop();
      await worker.stop();
      // Pieces under way are written by now: the bitfield matches the files.
      try {
        await saveResumeData(resumePath, await makeResumeData(storage, torrent.have));
      } catch {
        // Without resume data the next start checks every piece: slower, never wrong.
      }
      await writer.close();
    },
  };
}

/** Resolves on SIGINT or SIGTERM; the returned function stops listening. */
export function onStopSignal(handler: () => void): () => void {
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Reports every tick until SIGINT or SIGTERM: how both commands seed. */
export function reportUntilStopped(worker: PeerWorker, report: (tick: TorrentTick, time: number) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const onTick = (t: { time: number; torrents: TorrentTick[] }): void => {
      if (t.torrents[0]) report(t.torrents[0], t.time);
    };
    worker.on('tick', onTick);
    const unsignal = onStopSignal(() => {
      unsignal();
      worker.off('tick', onTick);
      resolve();
    });
  });
}

export type { TorrentTick };
