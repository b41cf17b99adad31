import { withItem, withoutItem } from './short-lists.js';
import type { AnnouncerEntry } from './tracker-client-types.js';

/**
 * The announcers a TrackerClient runs, one per (torrent, worker), kept by
 * torrent: the engine asks for peers for each torrent short of them every
 * tick, and a scan of every announcer per ask cost O(N²) a tick (80% of
 * serve's CPU with 5,000 torrents downloading).
 *
 * A torrent is served by a few workers (one in serve), so its announcers
 * are a short list (short-lists.ts), searched by worker: no key string per
 * announcer and no Set per torrent (~150 bytes each with its hash table,
 * for 10,000 torrents). A list handed out stays as it was while announcers
 * come and go.
 */
export class AnnouncerRegistry {
  private readonly byTorrent = new Map<string, readonly AnnouncerEntry[]>();
  private count = 0;

  /** How many announcers run. */
  get size(): number {
    return this.count;
  }

  get(hex: string, workerId: string): AnnouncerEntry | undefined {
    return this.byTorrent.get(hex)?.find((e) => e.workerId === workerId);
  }

  /** The announcers of a torrent, in the order they were added. */
  ofTorrent(hex: string): readonly AnnouncerEntry[] {
    return this.byTorrent.get(hex) ?? [];
  }

  /** The torrents with an announcer. */
  torrents(): string[] {
    return [...this.byTorrent.keys()];
  }

  /** Every announcer, torrent by torrent. */
  all(): AnnouncerEntry[] {
    return [...this.byTorrent.values()].flat();
  }

  ofWorker(workerId: string): AnnouncerEntry[] {
    return this.all().filter((e) => e.workerId === workerId);
  }

  /** Adds an announcer; the caller makes sure its (torrent, worker) has none yet. */
  add(e: AnnouncerEntry): void {
    const list = this.byTorrent.get(e.infoHashHex);
    const next = withItem(list, e);
    if (next === list) return;
    this.byTorrent.set(e.infoHashHex, next);
    this.count++;
  }

  /** Removes this very announcer; answers whether it was there. */
  delete(e: AnnouncerEntry): boolean {
    const list = this.byTorrent.get(e.infoHashHex);
    const next = withoutItem(list, e);
    if (next === list) return false;
    if (next) this.byTorrent.set(e.infoHashHex, next);
    else this.byTorrent.delete(e.infoHashHex);
    this.count--;
    return true;
  }
}
