import type { FleetConfig } from '@seedbox/cluster';
import type { Metainfo } from '@seedbox/protocol';
import { TorrentState } from '@seedbox/proto';
import { recordName, type PeerInfo, type TorrentRecord, type TorrentStatsView, type TrackerStatus } from '../../control/backend.js';
import { torrentState } from '../../control/state-codes.js';
import { modeOf, shownLimit, toKBps } from './tr-limits.js';
import { piecesBase64, progressOf, type Progress } from './tr-progress.js';
import { trPeer } from './tr-peers.js';
import { magnetLinkOf, trackerErrorOf, trackerListOf, trackersOf, trackerStatsOf } from './tr-trackers.js';

/**
 * torrent-get's fields (rpc-spec 3.3, as Transmission 4.0 names them),
 * each derived from the record, the fleet's figures and the config. Pure.
 *
 * A field seedbox has no figure for is not answered at all (as Transmission
 * skips a field it does not know), rather than made up: availability,
 * desiredAvailable, editDate, etaIdle, haveUnchecked, manualAnnounceTime,
 * peer-limit/maxConnectedPeers, peersFrom (peers are not told apart by
 * where they were found), primary-mime-type, recheckProgress, source,
 * startDate, torrentFile.
 *
 * A magnet link whose metadata the fleet is fetching is shown as
 * Transmission shows one: metadataPercentComplete 0, downloading (or
 * stopped), the link's name (its hash without one), no files, no pieces,
 * sizes 0 and percentDone 0, its link's trackers.
 */

export interface TorrentView {
  record: TorrentRecord;
  stats: TorrentStatsView | undefined;
  /** The fleet's bitfield, read only if a field needs it. */
  bitfield(): Uint8Array | undefined;
  /** What its trackers last answered, read only if a field needs it. */
  trackers(): TrackerStatus[];
  /** Its connected peers, fetched beforehand when `peers` is asked for (PEER_FIELDS); undefined otherwise. */
  peers?: PeerInfo[] | undefined;
}

export interface FieldEnv {
  /** Needed by the share-limit fields only (CONFIG_FIELDS), to show what a torrent deferring to the session has. */
  config: FleetConfig | undefined;
  /** Now, for the tracker fields (ms since the epoch). */
  now: number;
}

/** Transmission's tr_torrent_activity. */
export const STATUS = { stopped: 0, checkWait: 1, checking: 2, downloadWait: 3, downloading: 4, seedWait: 5, seeding: 6 } as const;

/** Transmission's tr_stat error: 3 is a local error (the data cannot be used), which wins over a tracker's warning (1) or error (2). */
const LOCAL_ERROR = 3;
/** tr_stat eta: -1 not available (not downloading), -2 unknown (downloading, nothing coming in). */
const ETA_NOT_AVAILABLE = -1;
const ETA_UNKNOWN = -2;

const seconds = (ms: number): number => Math.max(0, Math.floor(ms / 1000));
const whole = (n: number | undefined): number => (n !== undefined && Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

/** The figures of one torrent, each computed once and only if a field asks. */
class Facts {
  readonly record: TorrentRecord;
  readonly stats: TorrentStatsView | undefined;
  private progressMemo: Progress | undefined;
  private bitsMemo: { bits: Uint8Array | undefined } | undefined;
  private stateMemo: TorrentState | undefined;
  private trackersMemo: TrackerStatus[] | undefined;

  constructor(
    private readonly view: TorrentView,
    readonly env: FieldEnv,
  ) {
    this.record = view.record;
    this.stats = view.stats;
  }

  get trackers(): TrackerStatus[] {
    return (this.trackersMemo ??= this.view.trackers());
  }

  get peers(): PeerInfo[] {
    return this.view.peers ?? [];
  }

  /** It runs somewhere, so its announces go on: downloading or seeding, not stopped, queued, checking or in error. */
  get announcing(): boolean {
    return this.status === STATUS.downloading || this.status === STATUS.seeding;
  }

  bits(): Uint8Array | undefined {
    this.bitsMemo ??= { bits: this.view.bitfield() };
    return this.bitsMemo.bits;
  }

  get progress(): Progress {
    return (this.progressMemo ??= progressOf(this.record, this.stats, () => this.bits()));
  }

  get state(): TorrentState {
    return (this.stateMemo ??= torrentState(this.record, this.stats));
  }

  get status(): number {
    switch (this.state) {
      case TorrentState.TORRENT_STATE_PAUSED:
      case TorrentState.TORRENT_STATE_ERROR:
        // Transmission stops a torrent on a local error and shows it stopped, with the error beside.
        return STATUS.stopped;
      case TorrentState.TORRENT_STATE_QUEUED:
        return this.progress.leftUntilDone === 0 ? STATUS.seedWait : STATUS.downloadWait;
      case TorrentState.TORRENT_STATE_CHECKING:
        return STATUS.checking;
      case TorrentState.TORRENT_STATE_SEEDING:
        return STATUS.seeding;
      default:
        // Transmission's rule (tr_torrentGetActivity): running with nothing
        // left is seeding, whatever the last figures said (none yet after a
        // restart, or a tick behind the fleet's bitfield).
        return this.record.metainfo && this.progress.leftUntilDone === 0 ? STATUS.seeding : STATUS.downloading;
    }
  }

  /**
   * The torrent's own error: the data cannot be used, or (last) a move of
   * it failed, so it is not where it was asked to be; it runs from where
   * it was, and Sonarr shows the sentence as a warning on the download.
   */
  get localError(): string {
    if (this.record.error !== undefined) return this.record.error;
    if (this.stats?.state === 'error') return this.stats.error ?? 'the engine stopped the torrent without saying why';
    if (this.record.moveError) return `moving the data to ${this.record.moveError.to} failed: ${this.record.moveError.message}`;
    return '';
  }

  /** tr_stat's error and errorString: the local error, else what a tracker said (trackerErrorOf). */
  get error(): { error: number; errorString: string } {
    const local = this.localError;
    if (local !== '') return { error: LOCAL_ERROR, errorString: local };
    return trackerErrorOf(this.trackers) ?? { error: 0, errorString: '' };
  }

  /** A rate of the last tick; none for a paused torrent, whose last figures may outlive it until the board forgets them. */
  rate(which: 'downloadRate' | 'uploadRate'): number {
    return this.record.desired === 'paused' ? 0 : whole(this.stats?.[which]);
  }

  get config(): FleetConfig {
    if (!this.env.config) throw new Error('a share-limit field was asked without the config: list it in CONFIG_FIELDS');
    return this.env.config;
  }
}

/** A file's name as Transmission gives it: below the torrent's folder for a multi-file torrent, the name alone for a single file. */
function fileName(m: Metainfo, metaIndex: number): string {
  const path = m.files[metaIndex]!.path.join('/');
  return m.multiFile ? `${m.name}/${path}` : path;
}

/** The trackers: the metainfo's tiers, else the magnet link's, one per tier. */
function tiersOf(r: TorrentRecord): Pick<Metainfo, 'announce'> {
  return r.metainfo ?? { announce: r.magnet.trackers.map((t) => [t]) };
}

/** Transmission's tr_priority_t: a skipped file keeps normal priority, as Transmission keeps wanted and priority apart. */
const priorityOf = (p: string): number => (p === 'high' ? 1 : 0);

const FIELDS: Record<string, (f: Facts) => unknown> = {
  activityDate: (f) => seconds(f.record.totals.lastActivityAt),
  addedDate: (f) => seconds(f.record.addedAt),
  // Every torrent shares the bandwidth alike: all are "normal".
  bandwidthPriority: () => 0,
  comment: (f) => f.record.metainfo?.comment ?? '',
  // Pieces that failed their hash, as the workers running it counted them, by the piece length.
  corruptEver: (f) => whole(f.stats?.piecesFailed) * (f.record.metainfo?.pieceLength ?? 0),
  creator: (f) => f.record.metainfo?.createdBy ?? '',
  dateCreated: (f) => f.record.metainfo?.creationDate ?? 0,
  doneDate: (f) => seconds(f.record.totals.completedAt),
  downloadDir: (f) => f.record.savePath,
  downloadedEver: (f) => whole(f.record.totals.downloaded),
  downloadLimit: (f) => toKBps(f.record.settings.limits.download),
  downloadLimited: (f) => f.record.settings.limits.download > 0,
  error: (f) => f.error.error,
  errorString: (f) => f.error.errorString,
  eta: (f) => (f.status !== STATUS.downloading ? ETA_NOT_AVAILABLE : f.stats?.eta === undefined ? ETA_UNKNOWN : Math.round(f.stats.eta)),
  'file-count': (f) => f.progress.files.length,
  // Vuze's name for it, which Sonarr asks for beside Transmission's.
  fileCount: (f) => f.progress.files.length,
  files: (f) => {
    const p = f.progress;
    const m = f.record.metainfo;
    return m ? p.files.map((i, k) => ({ bytesCompleted: p.fileDone[k], length: m.files[i]!.length, name: fileName(m, i) })) : [];
  },
  fileStats: (f) => {
    const p = f.progress;
    return p.files.map((_, k) => ({ bytesCompleted: p.fileDone[k], wanted: p.priorities[k] !== 'skip', priority: priorityOf(p.priorities[k]!) }));
  },
  // No bandwidth groups: every torrent is in none.
  group: () => '',
  hashString: (f) => f.record.infoHashHex,
  haveValid: (f) => f.progress.haveValid,
  // The fleet's limits apply to every torrent; a torrent's own limits come on top.
  honorsSessionLimits: () => true,
  id: (f) => f.record.id,
  // Transmission's "finished": a seeding limit was reached and stopped it.
  isFinished: (f) => f.record.limitReached !== undefined,
  isPrivate: (f) => f.record.metainfo?.private ?? false,
  // Downloading with nothing coming in over the last tick (the state the other APIs call stalled).
  isStalled: (f) => f.state === TorrentState.TORRENT_STATE_STALLED,
  labels: (f) => [...f.record.settings.tags],
  leftUntilDone: (f) => f.progress.leftUntilDone,
  magnetLink: (f) => (f.record.metainfo ? magnetLinkOf(f.record.metainfo) : f.record.magnet.uri),
  // How far a fetch is, is not shared across the fleet: 0 until the metadata is in, then 1.
  metadataPercentComplete: (f) => (f.record.metainfo ? 1 : 0),
  name: (f) => recordName(f.record),
  peers: (f) => f.peers.map(trPeer),
  peersConnected: (f) => whole(f.stats?.peers),
  peersGettingFromUs: (f) => (f.record.desired === 'paused' ? 0 : whole(f.stats?.peersGetting)),
  peersSendingToUs: (f) => (f.record.desired === 'paused' ? 0 : whole(f.stats?.peersSending)),
  // Nothing of a magnet without its metadata is done (Transmission's 0), whereas a torrent with nothing wanted is all done.
  percentComplete: (f) => (f.progress.totalSize > 0 ? f.progress.haveValid / f.progress.totalSize : f.record.metainfo ? 1 : 0),
  percentDone: (f) => {
    const p = f.progress;
    return p.sizeWhenDone > 0 ? (p.sizeWhenDone - p.leftUntilDone) / p.sizeWhenDone : f.record.metainfo ? 1 : 0;
  },
  pieceCount: (f) => f.record.metainfo?.pieceCount ?? 0,
  pieceSize: (f) => f.record.metainfo?.pieceLength ?? 0,
  pieces: (f) => (f.record.metainfo ? piecesBase64(f.record.metainfo.pieceCount, f.bits()) : ''),
  priorities: (f) => f.progress.priorities.map(priorityOf),
  // 0-based in Transmission, 1-based in the record.
  queuePosition: (f) => Math.max(0, f.record.queuePosition - 1),
  rateDownload: (f) => f.rate('downloadRate'),
  rateUpload: (f) => f.rate('uploadRate'),
  secondsDownloading: (f) => seconds(f.record.totals.activeMs - f.record.totals.seedingMs),
  secondsSeeding: (f) => seconds(f.record.totals.seedingMs),
  seedIdleLimit: (f) => shownLimit(f.record.settings.share.inactiveMinutes, f.config.share.inactiveMinutes),
  seedIdleMode: (f) => modeOf(f.record.settings.share.inactiveMinutes),
  seedRatioLimit: (f) => shownLimit(f.record.settings.share.ratio, f.config.share.ratio),
  seedRatioMode: (f) => modeOf(f.record.settings.share.ratio),
  // Transmission 4.1's name; a 4.0 client does not ask for it.
  sequentialDownload: (f) => f.record.settings.sequential,
  sizeWhenDone: (f) => f.progress.sizeWhenDone,
  status: (f) => f.status,
  totalSize: (f) => f.progress.totalSize,
  trackerList: (f) => trackerListOf(tiersOf(f.record)),
  trackers: (f) => trackersOf(tiersOf(f.record)),
  trackerStats: (f) => trackerStatsOf(tiersOf(f.record), f.trackers, { active: f.announcing, now: f.env.now }),
  uploadedEver: (f) => whole(f.record.totals.uploaded),
  uploadLimit: (f) => toKBps(f.record.settings.limits.upload),
  uploadLimited: (f) => f.record.settings.limits.upload > 0,
  uploadRatio: (f) => (Number.isFinite(f.record.ratio) && f.record.ratio > 0 ? f.record.ratio : 0),
  // 0 and 1, not booleans: what Transmission 3.00 sent and 4.0.2 went back to.
  wanted: (f) => f.progress.priorities.map((p) => (p === 'skip' ? 0 : 1)),
  webseeds: (f) => [...(f.record.metainfo?.urlList ?? [])],
  // The engine does not download from web seeds.
  webseedsSendingToUs: () => 0,
};

/** The fields answered, in the order asked; unknown ones are skipped, as Transmission does. */
export function supportedFields(asked: readonly unknown[]): string[] {
  const out: string[] = [];
  for (const name of asked) if (typeof name === 'string' && Object.hasOwn(FIELDS, name) && !out.includes(name)) out.push(name);
  return out;
}

/** Fields that read the fleet's config. */
export const CONFIG_FIELDS: ReadonlySet<string> = new Set(['seedIdleLimit', 'seedRatioLimit']);

/** Fields that need the connected peers, asked of the workers running each torrent before the answer is built. */
export const PEER_FIELDS: ReadonlySet<string> = new Set(['peers']);

/** One torrent as an object of the fields asked (`names` from supportedFields). */
export function torrentObject(view: TorrentView, env: FieldEnv, names: readonly string[]): Record<string, unknown> {
  const f = new Facts(view, env);
  const out: Record<string, unknown> = {};
  for (const name of names) out[name] = FIELDS[name]!(f);
  return out;
}

/** One torrent as a row of the "table" format, in the order of `names`. */
export function torrentRow(view: TorrentView, env: FieldEnv, names: readonly string[]): unknown[] {
  const f = new Facts(view, env);
  return names.map((name) => FIELDS[name]!(f));
}
