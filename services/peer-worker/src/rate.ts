/**
 * Bytes counted between ticks. `tick()` closes the current 1-second window
 * and answers the rate over it; totals keep growing. Every rate that any
 * part of seedbox reports (the progress bar, the JSON lines, the Prometheus
 * gauges) comes from one of these, read on the same tick.
 *
 * A torrent with no peers skips its ticks (see TorrentCounters.quiet), so a
 * meter may go unticked for hours; `restart()` begins a fresh window when
 * bytes can flow again, or the first rate after would be spread over all
 * that time.
 */
export class RateMeter {
  private windowBytes = 0;
  private windowStart: number;
  private lastRate = 0;
  total = 0;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.windowStart = now();
  }

  add(bytes: number): void {
    this.windowBytes += bytes;
    this.total += bytes;
  }

  /** Closes the window; answers bytes per second over it. */
  tick(): number {
    const t = this.now();
    const seconds = (t - this.windowStart) / 1000;
    this.lastRate = seconds > 0 ? this.windowBytes / seconds : 0;
    this.windowBytes = 0;
    this.windowStart = t;
    return this.lastRate;
  }

  /** The rate of the last closed window. */
  get rate(): number {
    return this.lastRate;
  }

  /** Nothing counted in this window nor the last: a tick would answer 0 again. */
  get idle(): boolean {
    return this.windowBytes === 0 && this.lastRate === 0;
  }

  /** Starts the window now, unless it holds bytes (those are measured from where they began). */
  restart(): void {
    if (this.windowBytes === 0) this.windowStart = this.now();
  }
}
