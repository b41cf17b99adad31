import { mergeTicks, type EngineTick } from '../engine-tick.js';

/**
 * A tick's figures go out once its verified pieces are in the fleet's
 * bitfield: a reader that sees a torrent seeding then finds its pieces
 * (each file's bytes) there too. A tick whose flush ends after a later
 * tick's has nothing newer to say, and is dropped; its changes go out
 * with the later one (mergeTicks).
 */
export class TickPublisher {
  /** Ticks seen. */
  private seq = 0;
  /** Ticks whose figures have not gone out yet, oldest first: a later one that goes first carries their changes. */
  private unpublished: { seq: number; tick: EngineTick }[] = [];

  constructor(
    /** Resolves once the pieces verified so far are in the fleet's bitfield. */
    private readonly flush: () => Promise<void>,
    private readonly publish: (t: EngineTick) => void,
    /** Once stopped, nothing more goes out. */
    private readonly stopped: () => boolean,
  ) {}

  push(t: EngineTick): void {
    const seq = ++this.seq;
    this.unpublished.push({ seq, tick: t });
    void this.flush().then(() => {
      // Gone from the list: a later tick went out first, with this one's changes.
      const upTo = this.unpublished.findIndex((u) => u.seq === seq);
      if (this.stopped() || upTo < 0) return;
      const ticks = this.unpublished.slice(0, upTo + 1).map((u) => u.tick);
      this.unpublished = this.unpublished.slice(upTo + 1);
      this.publish(mergeTicks(ticks));
    });
  }
}
