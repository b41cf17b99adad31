import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * When FleetRunner reconciles, and what: the dirty marks and the
 * coalescing of its sync passes.
 *
 * Every event marks what it may have changed: one torrent (its registry
 * entry, its bitfield), every torrent (the membership, the queue or
 * replica settings), or the queue's answer alone (a torrent turned slow,
 * or stopped being). A pass takes the marks made so far and reconciles
 * those torrents only, so with nothing changing there is nothing to do.
 *
 * Passes run one at a time, and at most one waits behind the one under
 * way: any number of events meanwhile make one more pass, which takes all
 * their marks. At start the store's watches bring every registry entry and
 * every bitfield, 20,000 events for 10,000 torrents; chained one pass per
 * event over every torrent, that was 200 million reconciles.
 */

/** What one pass is to reconcile. */
export interface SyncWork {
  /** Every registered torrent (and every running one). */
  all: boolean;
  /** The torrents named by events (all of them with `all`). */
  torrents: Set<string>;
  /** The queue's answer must be worked out again even if no torrent's place in it moved. */
  queue: boolean;
}

const noWork = (): SyncWork => ({ all: false, torrents: new Set(), queue: false });

export class SyncPasses {
  private marks = noWork();
  /** The last pass scheduled; it never rejects. */
  private tail: Promise<void> = Promise.resolve();
  /** The pass waiting to start, which will take the marks made until it does. */
  private queued: Promise<void> | undefined;
  /** Passes run so far. */
  passes = 0;

  constructor(
    private readonly run: (work: SyncWork) => Promise<void>,
    private readonly onError: (e: unknown) => void,
  ) {}

  markTorrent(infoHashHex: string): void {
    this.marks.torrents.add(infoHashHex);
  }

  markAll(): void {
    this.marks.all = true;
  }

  markQueue(): void {
    this.marks.queue = true;
  }

  /** Marks no pass has taken yet: work left for the next one (a failure's retry, say). */
  get pending(): boolean {
    return this.marks.all || this.marks.queue || this.marks.torrents.size > 0;
  }

  /** A pass that takes every mark made before this call; resolves once it has run. */
  schedule(): Promise<void> {
    if (this.queued) return this.queued;
    const pass = this.tail
      .then(async () => {
        // The rest of this turn's events (a batch of watch messages) join the pass.
        await nextTurn();
        this.queued = undefined;
        const work = this.marks;
        this.marks = noWork();
        this.passes++;
        try {
          await this.run(work);
        } catch (e) {
          // Not done, so not forgotten: the next pass takes it up again.
          this.giveBack(work);
          throw e;
        }
      })
      .catch(this.onError);
    this.queued = pass;
    this.tail = pass;
    return pass;
  }

  /** Work a pass could not do, for a later one. */
  giveBack(work: SyncWork): void {
    if (work.all) this.marks.all = true;
    if (work.queue) this.marks.queue = true;
    for (const hex of work.torrents) this.marks.torrents.add(hex);
  }

  /** Resolves once the pass under way, and the one waiting behind it, have run. */
  idle(): Promise<void> {
    return this.tail;
  }
}
