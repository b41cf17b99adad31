import { randomInt } from 'node:crypto';
import { Announcer, type AnnounceFailed, type TrackerWarning } from './announcer.js';
import type { OwnWorkers } from './own-workers.js';
import { Scraper, type ScrapeTarget } from './scraper.js';
import type { FilteringPeerFeed } from './peer-feed.js';
import type { TrackerHolds } from './tracker-backoff.js';
import type { AnnouncerEntry, TorrentState, TrackerClientOptions, WorkerAnnounceAs, WorkerState, WorkerTorrentStats } from './tracker-client-types.js';
import type { TrackerGate } from './tracker-gate.js';
import type { TrackerStatusBook } from './tracker-status-book.js';
import type { TrackerTransport } from './transport.js';
import type { WorkerIdentity } from './worker-identity.js';

/**
 * How a TrackerClient makes the announcer of one (torrent, worker), and
 * its one Scraper. What many announcers have in common is made once and
 * handed to each, not copied into each (10,000 in serve): the client's
 * options, the transport, each tracker's gate and holds (which the scraper
 * shares too), the sinks, and for each worker identity what its announces
 * say and what their answers tell (WorkerAnnounceAs).
 */

export interface AnnouncerFactoryOptions {
  options: TrackerClientOptions;
  transport: TrackerTransport;
  gate: TrackerGate;
  holds: TrackerHolds;
  feed: FilteringPeerFeed;
  book: TrackerStatusBook;
  own: OwnWorkers;
  /** A worker's figures for a torrent in its last heartbeat; undefined once it no longer lists it. */
  latest: (workerId: string, hex: string) => WorkerTorrentStats | undefined;
  onWarning: (warning: TrackerWarning) => void;
  now: () => number;
}

export class AnnouncerFactory {
  /** Given to every announcer (one closure, not one each). */
  private readonly onFailure = (f: AnnounceFailed): void => this.o.book.failed(f);

  constructor(private readonly o: AnnouncerFactoryOptions) {}

  /** The announcer of a torrent for a worker, not started, with its entry. */
  entry(hex: string, torrent: TorrentState, worker: WorkerState): AnnouncerEntry {
    const workerId = worker.identity.workerId;
    const entry = {
      workerId,
      infoHashHex: hex,
      sawIncomplete: false,
      completedSent: false,
      last: worker.torrents.get(hex) ?? { uploaded: 0, downloaded: 0, left: 0 },
      frozen: false,
    } satisfies Omit<AnnouncerEntry, 'announcer'>;
    const { retryLater, random, timing } = this.o.options;
    // Written out, not spread from a shared object: a spread plus more fields gives each object a hidden class of its own (~500 bytes).
    const announcer = new Announcer({
      infoHash: torrent.infoHash,
      infoHashHex: hex,
      tiers: torrent.tiers,
      policy: torrent.policy,
      identity: worker.announceAs.identity,
      // Read at each request: the latest heartbeat of this worker.
      stats: () => {
        if (!entry.frozen) entry.last = this.o.latest(workerId, hex) ?? entry.last;
        return entry.last;
      },
      transport: this.o.transport,
      gate: this.o.gate,
      holds: this.o.holds,
      retryLater,
      random,
      timing,
      workerId,
      onPeers: (peers, source) => this.o.feed.peersFound(hex, peers, source),
      onWarning: this.o.onWarning,
      onFailure: this.onFailure,
      onAnnounce: worker.announceAs.onAnnounce,
    });
    return Object.assign(entry, { announcer });
  }

  /** A new worker identity: who its announces say it is, with a new BEP 3 `key`, and what their answers tell us. */
  announceAs({ peerId, port, host }: WorkerIdentity): WorkerAnnounceAs {
    return {
      identity: { peerId, port, key: randomInt(0, 0x1_0000_0000), ...(host !== undefined ? { host } : {}) },
      onAnnounce: (s) => {
        this.o.book.succeeded(s);
        const ext = s.response.externalIp;
        if (ext !== undefined && host === undefined) this.o.own.seenAt(ext);
        this.o.options.onAnnounce?.(s);
      },
    };
  }

  /** The scraper of `targets` (read at each sweep), at the trackers' pace and behind the announces; not started. */
  scraper(targets: () => Iterable<ScrapeTarget>): Scraper {
    const { options, book } = this.o;
    return new Scraper({
      transport: this.o.transport,
      gate: this.o.gate,
      holds: this.o.holds,
      ...(options.retryLater ? { retryLater: options.retryLater } : {}),
      ...(options.scrape ? { timing: options.scrape } : {}),
      ...(options.random ? { random: options.random } : {}),
      now: this.o.now,
      targets,
      onScrape: (o) => book.scraped(o),
      onWarning: (url, hexes, message, error) => this.o.onWarning({ kind: 'scrape-failed', infoHashHex: hexes[0] ?? '', url, code: error.code, message, error }),
    });
  }
}
