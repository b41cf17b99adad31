import type { NatsConnection } from 'nats';
import { requestReannounce, type FleetState, type TrackerStatus } from '@seedbox/cluster';
import type { TrackerSource } from '../control/backend.js';

/**
 * What the trackers answered, as every peer-worker sees it: the
 * tracker-client writes each torrent's statuses to `seedbox_trackers` on
 * every announce result, and this keeps a watch of the bucket, so the
 * control APIs read them from memory, list after list, and a replica that
 * has just started has them as soon as the watch delivers the bucket. A
 * reannounce is a request to the tracker-client.
 */
export class TrackerBoard implements TrackerSource {
  private readonly statuses = new Map<string, TrackerStatus[]>();

  private constructor(
    private readonly nc: NatsConnection,
    private stopWatch: () => void = () => {},
  ) {}

  static async open(nc: NatsConnection, state: Pick<FleetState, 'watchTrackerStatus'>): Promise<TrackerBoard> {
    const board = new TrackerBoard(nc);
    board.stopWatch = await state.watchTrackerStatus((hex, list) => {
      if (list && list.length > 0) board.statuses.set(hex, list);
      else board.statuses.delete(hex);
    });
    return board;
  }

  status(infoHashHex: string): TrackerStatus[] {
    return (this.statuses.get(infoHashHex) ?? []).map((s) => ({ ...s }));
  }

  reannounce(infoHashHex: string): Promise<number> {
    return requestReannounce(this.nc, infoHashHex);
  }

  close(): void {
    this.stopWatch();
  }
}
