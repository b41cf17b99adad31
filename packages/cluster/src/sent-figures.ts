/**
 * What a heartbeat last said of one torrent, so that the next says only
 * what moved. Both heartbeats use it: the fleet's over NATS
 * (NatsPeerDiscovery, in the peer-worker) and serve's in-process beat
 * (EmbeddedTrackers, in the tracker-client), each once a second over every
 * torrent a worker runs; at 10,000 idle torrents, what they cost is what
 * this costs per torrent.
 */

/** The four figures an announce carries. */
export interface AnnounceFigures {
  uploaded: number;
  downloaded: number;
  left: number;
  complete: boolean;
}

/** Where a torrent's figures are read: the engine's swarm member. */
export interface FiguresSource {
  totals(): AnnounceFigures;
  /**
   * While the figures cannot move (a dormant torrent), an object that
   * stays the same until they can; undefined while they may.
   */
  quiet?(): object | undefined;
}

export class SentFigures {
  private sent = false;
  private uploaded = 0;
  private downloaded = 0;
  private left = 0;
  private complete = false;
  /** The source's quiet stamp when its figures were last read. */
  private quiet: object | undefined;

  /** Whether any heartbeat has carried this torrent's figures (false: the next lists it, as a join). */
  get listed(): boolean {
    return this.sent;
  }

  /**
   * The source's figures if they moved since they were last sent (or were
   * never sent), noted as sent; undefined if they did not. A quiet source
   * read under the same stamp is not read at all. `totals()` may throw:
   * nothing is noted then.
   */
  changed(source: FiguresSource): AnnounceFigures | undefined {
    const quiet = source.quiet?.();
    if (this.sent && quiet !== undefined && quiet === this.quiet) return undefined;
    const t = source.totals();
    this.quiet = quiet;
    if (this.sent && t.uploaded === this.uploaded && t.downloaded === this.downloaded && t.left === this.left && t.complete === this.complete) return undefined;
    return this.note(t);
  }

  /** The source's figures, whatever they are, noted as sent (a full heartbeat lists every torrent). */
  all(source: FiguresSource): AnnounceFigures {
    const quiet = source.quiet?.();
    const t = source.totals();
    this.quiet = quiet;
    return this.note(t);
  }

  private note(t: AnnounceFigures): AnnounceFigures {
    this.sent = true;
    this.uploaded = t.uploaded;
    this.downloaded = t.downloaded;
    this.left = t.left;
    this.complete = t.complete;
    return t;
  }
}
