import type { NatsConnection, Subscription } from 'nats';
import { WORKER_BANDWIDTH_ALL, workerBandwidthSubject, type SpeedLimits } from '@seedbox/cluster';
import type { Engine, EngineTick } from '../engine.js';
import { shareLimit, type WorkerDemand } from '../bandwidth/fleet-share.js';

/**
 * The fleet's global speed limits, held by the fleet as a whole: each
 * worker publishes, once a tick, what it moved each way and whether its
 * limit held it back (`seedbox.bandwidth.<worker>`, JSON), hears every
 * other worker's, and sets its own engine's limits to its share of the
 * fleet's (bandwidth/fleet-share.ts: a floor for every active worker, the
 * rest by share of the demand). Every worker computes the same split from
 * the same figures, so no one coordinates. A worker not heard from for
 * STALE_MS is gone.
 */

interface Heard {
  time: number;
  download: { rate: number; wanting: boolean };
  upload: { rate: number; wanting: boolean };
}

const STALE_MS = 5000;

export class FleetBandwidth {
  private readonly heard = new Map<string, Heard>();
  private readonly sub: Subscription;
  private total: SpeedLimits = { download: 0, upload: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly workerId: string,
    private readonly engine: Engine,
  ) {
    this.sub = nc.subscribe(WORKER_BANDWIDTH_ALL, {
      callback: (_err, msg) => {
        const h = parseHeard(msg.data);
        if (h) this.heard.set(msg.subject.slice(WORKER_BANDWIDTH_ALL.length - 1), h);
      },
    });
  }

  /** The fleet's limits now (the config's, or its alternative pair). */
  setTotal(limits: SpeedLimits): void {
    this.total = limits;
    // Until the next tick: the whole limit for this worker alone would
    // overshoot in a fleet, so start from an equal split of what is known.
    this.apply();
  }

  /** Once a tick: tell the others what this worker moved, then take this worker's share. */
  tick(t: EngineTick): void {
    const wanting = this.engine.takeBandwidthWanting();
    const { downloadRate: down, uploadRate: up } = t.sums;
    const mine: Heard = { time: Date.now(), download: { rate: down, wanting: wanting.download }, upload: { rate: up, wanting: wanting.upload } };
    this.heard.set(this.key, mine);
    this.nc.publish(workerBandwidthSubject(this.workerId), new TextEncoder().encode(JSON.stringify({ download: mine.download, upload: mine.upload })));
    this.apply();
  }

  close(): void {
    this.sub.unsubscribe();
  }

  private get key(): string {
    return workerBandwidthSubject(this.workerId).slice(WORKER_BANDWIDTH_ALL.length - 1);
  }

  private apply(): void {
    const now = Date.now();
    const demands = (dir: 'download' | 'upload'): WorkerDemand[] => {
      const out: WorkerDemand[] = [];
      for (const [id, h] of this.heard) {
        if (now - h.time > STALE_MS) this.heard.delete(id);
        else out.push({ workerId: id, rate: h[dir].rate, wanting: h[dir].wanting });
      }
      return out;
    };
    this.engine.setLimits({
      download: this.total.download > 0 ? shareLimit(this.total.download, demands('download'), this.key) : 0,
      upload: this.total.upload > 0 ? shareLimit(this.total.upload, demands('upload'), this.key) : 0,
    });
  }
}

function parseHeard(data: Uint8Array): Heard | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as Partial<Heard>;
    const side = (x: unknown): { rate: number; wanting: boolean } | undefined => {
      const o = x as { rate?: unknown; wanting?: unknown } | undefined;
      return o && typeof o.rate === 'number' && Number.isFinite(o.rate) && typeof o.wanting === 'boolean' ? { rate: Math.max(0, o.rate), wanting: o.wanting } : undefined;
    };
    const download = side(v.download);
    const upload = side(v.upload);
    return download && upload ? { time: Date.now(), download, upload } : undefined;
  } catch {
    return undefined;
  }
}
