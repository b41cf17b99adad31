import type { FleetState, TrackerStatus } from '@seedbox/cluster';
import type { TrackerClient } from './tracker-client.js';

/**
 * Writes the tracker-client's statuses to the `seedbox_trackers` bucket:
 * one put per torrent per change, never two at once for a torrent (so the
 * bucket cannot end on an older list written late), and when changes come
 * faster than puts, only the latest goes. Announces are minutes apart per
 * (torrent, worker), so this is a few writes a minute for a busy fleet.
 */
export class TrackerStatusWriter {
  private readonly pending = new Map<string, TrackerStatus[]>();
  private readonly writing = new Map<string, Promise<void>>();

  constructor(
    private readonly state: Pick<FleetState, 'putTrackerStatus' | 'listTrackerStatus' | 'torrents'>,
    private readonly onError: (infoHashHex: string, error: Error) => void,
  ) {}

  write(infoHashHex: string, list: TrackerStatus[]): void {
    this.pending.set(infoHashHex, list);
    if (!this.writing.has(infoHashHex)) this.writing.set(infoHashHex, this.drain(infoHashHex));
  }

  private async drain(hex: string): Promise<void> {
    try {
      for (let list = this.pending.get(hex); list !== undefined; list = this.pending.get(hex)) {
        this.pending.delete(hex);
        try {
          await this.state.putTrackerStatus(hex, list);
        } catch (e) {
          // NATS down: this list is lost, the next announce writes a newer one.
          this.onError(hex, e as Error);
        }
      }
    } finally {
      this.writing.delete(hex);
    }
  }

  /**
   * Gives the client what the bucket holds for registered torrents, and
   * deletes what it holds for torrents removed while no tracker-client ran.
   */
  async restore(client: Pick<TrackerClient, 'restoreTrackerStatus'>): Promise<void> {
    const registered = new Set<string>();
    for await (const k of await this.state.torrents.keys()) registered.add(k);
    for (const [hex, list] of await this.state.listTrackerStatus()) {
      if (registered.has(hex)) client.restoreTrackerStatus(hex, list);
      else this.write(hex, []);
    }
  }

  /** Waits for the writes under way (shutdown). */
  async flush(): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing.values()]);
  }
}
