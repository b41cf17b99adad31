import type { CloseReason } from './peer-connection.js';
import type { DownloadScheduler } from './download-scheduler.js';
import type { PeerSession } from './peer-session.js';
import type { TorrentFigures, TorrentSnapshot } from './torrent-snapshot.js';
import type { UploadServer } from './upload-server.js';

/** Block bytes each way, wasted bytes, and pieces verified and failed. */
export interface LifeTotals {
  downloaded: number;
  uploaded: number;
  wasted: number;
  verified: number;
  failed: number;
}

/**
 * A torrent's running counts over its whole life: byte totals that survive
 * the scheduler and upload server being rebuilt by a recheck, bytes per
 * peer address, sessions closed by reason in this tick, and the figures of
 * the last closed tick. The torrent feeds it; reading changes nothing.
 *
 * It also says when a tick would change nothing (`skipTick`), so that the
 * thousands of torrents a seedbox keeps without peers cost nothing per
 * tick: `last` then stays the same object, which the torrent's snapshot
 * cache keys on.
 */
export class TorrentCounters {
  /** Closed at the last tick; replaced (never changed) by each tick that runs. */
  last: TorrentFigures['last'] = { downloadRate: 0, uploadRate: 0, closed: {}, refused: {} };
  private closedThisTick: Partial<Record<CloseReason, number>> = {};
  private closedSinceTick = false;
  /** `last` holds no rate, close or refusal. */
  private lastIsZero = true;
  /** The last tick was skipped (skipTick). */
  private asleep = false;
  /** Bytes from sessions that have closed, by address. */
  private readonly contributed: Record<string, number> = {};
  /** The counters of sides replaced by a recheck, so totals survive it. */
  private carried: LifeTotals = { downloaded: 0, uploaded: 0, wasted: 0, verified: 0, failed: 0 };
  /** The two sides of the trade counting now; none before the first check. */
  private download: DownloadScheduler | undefined;
  private upload: UploadServer | undefined;

  /** The two sides (new after each check) count from now on; what the ones before counted is kept. */
  attach(download: DownloadScheduler, upload: UploadServer): void {
    const c = this.carried;
    const d = this.download;
    const u = this.upload;
    if (d && u) {
      this.carried = {
        downloaded: c.downloaded + d.meter.total,
        uploaded: c.uploaded + u.meter.total,
        wasted: c.wasted + d.wasted,
        verified: c.verified + d.verified,
        failed: c.failed + d.failed,
      };
    }
    this.download = download;
    this.upload = upload;
  }

  sessionClosed(session: PeerSession, reason: CloseReason): void {
    this.closedThisTick[reason] = (this.closedThisTick[reason] ?? 0) + 1;
    this.closedSinceTick = true;
    if (session.download.total > 0) this.contributed[session.address] = (this.contributed[session.address] ?? 0) + session.download.total;
  }

  /** Block bytes received from each peer address, the live sessions' included. */
  contributions(live: Iterable<PeerSession>): Record<string, number> {
    const out: Record<string, number> = { ...this.contributed };
    for (const s of live) out[s.address] = (out[s.address] ?? 0) + s.download.total;
    return out;
  }

  /** Totals over the torrent's life. */
  totals(): LifeTotals {
    const { carried: c, download, upload } = this;
    return {
      downloaded: c.downloaded + (download?.meter.total ?? 0),
      uploaded: c.uploaded + (upload?.meter.total ?? 0),
      wasted: c.wasted + (download?.wasted ?? 0),
      verified: c.verified + (download?.verified ?? 0),
      failed: c.failed + (download?.failed ?? 0),
    };
  }

  /** Whether the snapshot `s` still holds these totals (no allocation: it runs for every idle torrent, every tick). */
  sameTotals(s: TorrentSnapshot): boolean {
    const { carried: c, download, upload } = this;
    return (
      s.downloaded === c.downloaded + (download?.meter.total ?? 0) &&
      s.uploaded === c.uploaded + (upload?.meter.total ?? 0) &&
      s.wasted === c.wasted + (download?.wasted ?? 0) &&
      s.piecesVerified === c.verified + (download?.verified ?? 0) &&
      s.piecesFailed === c.failed + (download?.failed ?? 0)
    );
  }

  /**
   * Whether this tick can be skipped, as a tick would change nothing: no
   * bytes, closes or refusals since the last one, and the last one's
   * figures all zero. The caller knows no session is live. (Refusals need
   * no check of their own: only a live session refuses, so with none left
   * the last one closed in this window, or its refusals went at an
   * earlier tick.)
   */
  skipTick(): boolean {
    const quiet = this.lastIsZero && !this.closedSinceTick && (this.download?.meter.idle ?? true) && (this.upload?.meter.idle ?? true);
    if (quiet) this.asleep = true;
    return quiet;
  }

  /** A session is live: after skipped ticks, the rate windows start now rather than at the last tick that ran. */
  sessionOpened(): void {
    if (!this.asleep) return;
    this.asleep = false;
    this.download?.meter.restart();
    this.upload?.meter.restart();
  }

  /** Closes this second's window: rates, closes and refusals become `last`. */
  tick(): void {
    const { download, upload } = this;
    const last = {
      downloadRate: download?.meter.tick() ?? 0,
      uploadRate: upload?.meter.tick() ?? 0,
      closed: this.closedThisTick,
      refused: upload?.takeRefused() ?? {},
    };
    this.last = last;
    this.lastIsZero = last.downloadRate === 0 && last.uploadRate === 0 && !this.closedSinceTick && isEmpty(last.refused);
    this.closedThisTick = {};
    this.closedSinceTick = false;
  }
}

function isEmpty(o: object): boolean {
  for (const _ in o) return false;
  return true;
}
