import type { CloseReason } from './peer-connection.js';
import type { DownloadScheduler } from './download-scheduler.js';
import type { PeerSession } from './peer-session.js';
import type { TorrentFigures } from './torrent-snapshot.js';
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
 */
export class TorrentCounters {
  /** Closed at the last tick. */
  last: TorrentFigures['last'] = { downloadRate: 0, uploadRate: 0, closed: {}, refused: {} };
  private closedThisTick: Partial<Record<CloseReason, number>> = {};
  /** Bytes from sessions that have closed, by address. */
  private readonly contributed: Record<string, number> = {};
  /** The counters of sides replaced by a recheck, so totals survive it. */
  private carried: LifeTotals = { downloaded: 0, uploaded: 0, wasted: 0, verified: 0, failed: 0 };

  /** The two sides are about to be replaced: keep what they counted. */
  carry(download: DownloadScheduler, upload: UploadServer): void {
    const c = this.carried;
    this.carried = {
      downloaded: c.downloaded + download.meter.total,
      uploaded: c.uploaded + upload.meter.total,
      wasted: c.wasted + download.wasted,
      verified: c.verified + download.verified,
      failed: c.failed + download.failed,
    };
  }

  sessionClosed(session: PeerSession, reason: CloseReason): void {
    this.closedThisTick[reason] = (this.closedThisTick[reason] ?? 0) + 1;
    if (session.download.total > 0) this.contributed[session.address] = (this.contributed[session.address] ?? 0) + session.download.total;
  }

  /** Block bytes received from each peer address, the live sessions' included. */
  contributions(live: Iterable<PeerSession>): Record<string, number> {
    const out: Record<string, number> = { ...this.contributed };
    for (const s of live) out[s.address] = (out[s.address] ?? 0) + s.download.total;
    return out;
  }

  /** Totals over the torrent's life. */
  totals(download: DownloadScheduler | undefined, upload: UploadServer | undefined): LifeTotals {
    const c = this.carried;
    return {
      downloaded: c.downloaded + (download?.meter.total ?? 0),
      uploaded: c.uploaded + (upload?.meter.total ?? 0),
      wasted: c.wasted + (download?.wasted ?? 0),
      verified: c.verified + (download?.verified ?? 0),
      failed: c.failed + (download?.failed ?? 0),
    };
  }

  /** Closes this second's window: rates, closes and refusals become `last`. */
  tick(download: DownloadScheduler | undefined, upload: UploadServer | undefined): void {
    this.last = {
      downloadRate: download?.meter.tick() ?? 0,
      uploadRate: upload?.meter.tick() ?? 0,
      closed: this.closedThisTick,
      refused: upload?.takeRefused() ?? {},
    };
    this.closedThisTick = {};
  }
}
