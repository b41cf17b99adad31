import type { TorrentStats, WatchTorrentsResponse } from '@seedbox/proto';

/**
 * What one WatchTorrents stream with `changes_only` has sent, so that each
 * tick sends only the torrents whose figures changed and those that went
 * away. The first message is every torrent's (`full`), so a client that
 * starts watching late, or again after a broken stream, starts from the
 * whole picture.
 *
 * The comparison is with what was last *sent*, not with the last tick: a
 * tick skipped while the client reads slowly (the stream drops ticks
 * rather than queue them) leaves its changes for the next message, so none
 * is lost.
 */
export class SentFigures {
  /** The figures last sent per torrent, and the tick that last carried the torrent. */
  private readonly sent = new Map<string, { stats: TorrentStats; tick: number }>();
  private ticks = 0;

  /** The message for a tick's figures (one per torrent); undefined when nothing changed since the last. */
  next(stats: readonly TorrentStats[]): WatchTorrentsResponse | undefined {
    const tick = ++this.ticks;
    const full = tick === 1;
    const changed: TorrentStats[] = [];
    let present = 0;
    for (const s of stats) {
      const was = this.sent.get(s.infoHash);
      if (!was) {
        this.sent.set(s.infoHash, { stats: s, tick });
        present++;
        changed.push(s);
        continue;
      }
      // The same torrent twice in one tick counts once.
      if (was.tick !== tick) present++;
      was.tick = tick;
      if (sameFigures(was.stats, s)) continue;
      was.stats = s;
      changed.push(s);
    }
    const removed: string[] = [];
    // Only when some torrent of the last message is missing from this tick: no pass over the map otherwise.
    if (present < this.sent.size) {
      for (const [hash, { tick: seen }] of this.sent) {
        if (seen === tick) continue;
        this.sent.delete(hash);
        removed.push(hash);
      }
    }
    if (!full && changed.length === 0 && removed.length === 0) return undefined;
    return { stats: changed, removed, full };
  }
}

/**
 * The same figures, the tick's time aside (it moves every tick, and a
 * torrent that did nothing has nothing new to say). Every field of
 * TorrentStats is a number or a string, so any field added later is
 * compared too.
 */
export function sameFigures(a: TorrentStats, b: TorrentStats): boolean {
  for (const k of Object.keys(a) as (keyof TorrentStats)[]) {
    if (k !== 'tickTimeMs' && a[k] !== b[k]) return false;
  }
  return true;
}
