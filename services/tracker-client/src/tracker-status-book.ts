import type { TrackerErrorCode } from '@seedbox/protocol';
import type { AnnounceFailureKind, TrackerStatus } from '@seedbox/cluster';
import type { AnnounceFailed, AnnounceSuccess } from './announcer.js';

/**
 * The latest word of every tracker of every torrent, as the control APIs
 * show it (see TrackerStatus in @seedbox/cluster): fed by the announcers'
 * outcomes, read by EmbeddedTrackers in one process and written to the
 * `seedbox_trackers` bucket by the fleet's tracker-client (onChange).
 *
 * Every worker announces the same torrent to the same trackers, so the
 * outcome that ended last stands for the tracker, whichever worker it was
 * for; an older one reported late (a failure is reported when its round
 * ends) does not overwrite it. Counts outlive a failure: they are the last
 * the tracker gave, and say so by their time (lastSuccessAt).
 *
 * `stopped` replies are not recorded: one worker leaving says nothing of
 * the torrent's announces, and would clear the next announce time of the
 * workers that stay.
 */

const MAX_TRACKERS = 256;

export class TrackerStatusBook {
  private readonly byTorrent = new Map<string, Map<string, TrackerStatus>>();

  constructor(
    private readonly onChange: (infoHashHex: string, list: TrackerStatus[]) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** The statuses of a torrent's trackers heard from so far (none: never announced). */
  get(infoHashHex: string): TrackerStatus[] {
    return [...(this.byTorrent.get(infoHashHex.toLowerCase())?.values() ?? [])].map((s) => ({ ...s }));
  }

  succeeded(s: AnnounceSuccess): void {
    if (s.event === 'stopped') return;
    const prev = this.prev(s.infoHashHex, s.url);
    const r = s.response;
    const at = this.now();
    this.put(s.infoHashHex, {
      url: s.url,
      lastAnnounceStartAt: s.startedAt,
      lastAnnounceAt: at,
      ok: true,
      warning: r.warning,
      peers: r.peers.length,
      seeders: r.complete ?? prev?.seeders,
      leechers: r.incomplete ?? prev?.leechers,
      downloaded: r.downloaded ?? prev?.downloaded,
      lastSuccessAt: at,
      nextAnnounceAt: s.nextAnnounceAt,
    });
  }

  failed(f: AnnounceFailed): void {
    if (f.error.code === 'TRACKER_ABORTED') return; // ours: the announce was cancelled, the tracker said nothing
    const prev = this.prev(f.infoHashHex, f.url);
    const failure = failureKind(f.error.code);
    this.put(f.infoHashHex, {
      url: f.url,
      lastAnnounceStartAt: f.startedAt,
      lastAnnounceAt: f.failedAt,
      ok: false,
      failure,
      // The tracker's own words when it refused: what qbit_manage and its kind match ("unregistered torrent").
      error: failure === 'refused' ? (f.error.failureReason ?? f.error.message) : f.error.message,
      peers: prev?.peers,
      seeders: prev?.seeders,
      leechers: prev?.leechers,
      downloaded: prev?.downloaded,
      lastSuccessAt: prev?.lastSuccessAt,
      nextAnnounceAt: f.nextAnnounceAt,
    });
  }

  /** Statuses kept from before (the bucket, after a restart); what was heard since wins. */
  restore(infoHashHex: string, list: readonly TrackerStatus[]): void {
    const hex = infoHashHex.toLowerCase();
    const mine = this.byTorrent.get(hex) ?? new Map<string, TrackerStatus>();
    for (const s of list) if (!mine.has(s.url) && mine.size < MAX_TRACKERS) mine.set(s.url, { ...s });
    if (mine.size > 0) this.byTorrent.set(hex, mine);
  }

  /** The torrent is gone: its statuses go too (onChange hears an empty list). */
  forget(infoHashHex: string): void {
    const hex = infoHashHex.toLowerCase();
    if (!this.byTorrent.delete(hex)) return;
    this.tell(hex, []);
  }

  private prev(hex: string, url: string): TrackerStatus | undefined {
    return this.byTorrent.get(hex.toLowerCase())?.get(url);
  }

  private put(infoHashHex: string, s: TrackerStatus): void {
    const hex = infoHashHex.toLowerCase();
    let mine = this.byTorrent.get(hex);
    if (!mine) {
      mine = new Map();
      this.byTorrent.set(hex, mine);
    }
    const prev = mine.get(s.url);
    if (prev && prev.lastAnnounceAt > s.lastAnnounceAt) return;
    if (!prev && mine.size >= MAX_TRACKERS) return;
    for (const k of Object.keys(s) as (keyof TrackerStatus)[]) if (s[k] === undefined) delete s[k];
    mine.set(s.url, s);
    this.tell(hex, [...mine.values()]);
  }

  private tell(hex: string, list: TrackerStatus[]): void {
    try {
      this.onChange(hex, list);
    } catch {
      // Where the statuses are written is the caller's concern; the book stays right.
    }
  }
}

/** How the APIs tell failures apart, from the TrackerError's code. */
export function failureKind(code: TrackerErrorCode): AnnounceFailureKind {
  switch (code) {
    case 'TRACKER_FAILURE':
      return 'refused';
    case 'TRACKER_TIMEOUT':
      return 'timeout';
    case 'TRACKER_NETWORK':
    case 'TRACKER_HTTP_STATUS':
    case 'TRACKER_BAD_URL':
    case 'TRACKER_ABORTED':
      return 'unreachable';
    default:
      return 'bad-reply';
  }
}
