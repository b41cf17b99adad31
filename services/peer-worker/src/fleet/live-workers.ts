import type { FleetStore } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';

/**
 * The peer-workers alive in the fleet, as the store's workers bucket says
 * (entries expire 15 s after a worker's last write), and this worker's own
 * entry, written again at each refresh: who it is (peer id), where peers
 * and the control API reach it. The list is what rendezvous hashing runs
 * on (who owns a download, who seeds a complete torrent), so it always
 * holds this worker, and is sorted so that every worker reads the same.
 */
export interface WorkerEntry {
  workerId: string;
  peerIdHex: string;
  host?: string | undefined;
  port: number;
  grpc?: string | undefined;
}

export class LiveWorkers {
  private ids: string[];

  constructor(
    private readonly state: FleetStore,
    private readonly self: () => WorkerEntry,
    private readonly log: Logger,
  ) {
    this.ids = [self().workerId];
  }

  /** The same array until the membership changes, so what is worked out from it may be kept by its identity (RendezvousCache). */
  get list(): readonly string[] {
    return this.ids;
  }

  /**
   * Reads the live workers and writes this one's entry; on a store failure
   * the last list stays. Answers whether the list changed: only then has
   * any torrent's owner or seeders changed.
   */
  async refresh(): Promise<boolean> {
    const me = this.self();
    let changed = false;
    try {
      const workers = await this.state.listWorkers();
      const ids = new Set(workers.map((w) => w.workerId));
      ids.add(me.workerId);
      const list = [...ids].sort();
      changed = list.length !== this.ids.length || list.some((id, i) => id !== this.ids[i]);
      if (changed) this.ids = list;
      await this.state.putWorker({
        workerId: me.workerId,
        peerIdHex: me.peerIdHex,
        ...(me.host !== undefined ? { host: me.host } : {}),
        port: me.port,
        ...(me.grpc !== undefined ? { grpc: me.grpc } : {}),
        time: Date.now(),
      });
    } catch (e) {
      this.log.warn('reading the fleet membership failed', { error: e as Error });
    }
    return changed;
  }
}
