import type { CloseReason } from './peer-connection.js';

/**
 * Whether a peer is worth its connection while we download from it: the
 * rules that drop a peer that takes a slot and gives nothing, each with
 * its own close reason so the snapshot counts them apart. The session
 * tells it what happened and asks for a verdict once a tick; it reads no
 * clock of its own.
 *
 * - `unrequested-data`: blocks we never asked this peer for (not late
 *   answers to requests we timed out, cancelled or lost to a choke: those
 *   are expected, and endgame asks for duplicates on purpose) are wasted
 *   bytes. libtorrent counts them as waste (`piece_unknown`) and posts an
 *   `unwanted_block_alert`; we do the same, and past
 *   UNREQUESTED_ALLOWANCE blocks in one session drop the peer, since an
 *   honest peer sends none.
 * - `choked-too-long`: we are interested, the peer chokes us, and it has
 *   sent us no block for `timeouts.choked` (default 2 min) since we became
 *   interested. libtorrent has no such timer; it frees such a peer's slot
 *   by peer turnover (the slowest, choking peers are disconnected when the
 *   torrent is near its connection limit) and its inactivity timeout. A
 *   seed that advertises every piece and never unchokes is exactly that.
 * - `snubbed`: a request timed out (the pipeline then keeps one request
 *   outstanding, libtorrent's snub) and no block has answered one in time
 *   for `timeouts.snubbed` (default 1 min) more: a peer that unchokes and
 *   then trickles, or takes requests and never answers.
 *
 * The peer list dials such a peer again only after a backoff (see
 * peer-list.ts), so its slot goes to another peer meanwhile.
 */

/** Blocks we never asked for that one session may send before it is dropped (256 KiB of waste). */
export const UNREQUESTED_ALLOWANCE = 16;

export type QualityVerdict = Extract<CloseReason, 'unrequested-data' | 'choked-too-long' | 'snubbed'>;

export interface QualityRules {
  /** Interested, choked, and no block for this long: dropped, ms. */
  choked: number;
  /** Snubbed for this long: dropped, ms. */
  snubbed: number;
}

/** What the session is to the peer now, as the rules read it. */
export interface DownloadState {
  /** We want pieces it has. */
  interested: boolean;
  /** It chokes us. */
  choked: boolean;
  /** Our pipeline to it is snubbed (a request timed out, none answered in time since). */
  snubbed: boolean;
}

export class PeerQuality {
  /** When a block last answered one of our requests, in time or late; 0 for never. */
  lastAnswerAt = 0;
  private interestedAt = 0;
  private snubbedSince: number | undefined;
  private unrequestedBlocks = 0;

  constructor(private readonly rules: QualityRules) {}

  /** Blocks the peer sent that we never asked for, in this session. */
  get unrequested(): number {
    return this.unrequestedBlocks;
  }

  /** We became interested in the peer: the choke clock starts. */
  interested(now: number): void {
    this.interestedAt = now;
  }

  /** A block answered one of our requests. */
  answered(now: number): void {
    this.lastAnswerAt = now;
  }

  /** A block we never asked for: answers the verdict once past the allowance. */
  unrequestedBlock(): QualityVerdict | undefined {
    return ++this.unrequestedBlocks > UNREQUESTED_ALLOWANCE ? 'unrequested-data' : undefined;
  }

  /** Once a tick: a reason to drop the peer, or undefined to keep it. */
  judge(now: number, s: DownloadState): QualityVerdict | undefined {
    if (!s.interested) {
      this.snubbedSince = undefined;
      return undefined;
    }
    if (s.choked && now - Math.max(this.interestedAt, this.lastAnswerAt) > this.rules.choked) return 'choked-too-long';
    if (!s.snubbed) this.snubbedSince = undefined;
    else if (this.snubbedSince === undefined) this.snubbedSince = now;
    else if (now - this.snubbedSince > this.rules.snubbed) return 'snubbed';
    return undefined;
  }
}
