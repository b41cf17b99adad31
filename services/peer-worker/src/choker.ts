/**
 * Who gets an upload slot. BEP 3's tit-for-tat, as the reference client
 * and libtorrent run it:
 *
 * - a fixed number of slots (default 4), re-decided every 10 s, go to the
 *   interested peers that served us fastest while we leech, or that we
 *   served fastest while we seed (a seed has nothing to trade, so it rewards
 *   the peers that can take data fastest);
 * - one of them is an optimistic unchoke, moved every 30 s to a random
 *   choked peer, so that new peers get a chance to show their rate;
 * - a snubbed peer (it has sent us nothing for a while although we asked)
 *   loses its regular slot while we leech.
 *
 * Pure: it takes the peers' numbers and answers the set to unchoke.
 */
export interface ChokeCandidate {
  id: string;
  interested: boolean;
  /** Bytes/s the peer sent us over the last ticks. */
  downloadRate: number;
  /** Bytes/s we sent the peer. */
  uploadRate: number;
  snubbed: boolean;
}

export interface ChokerOptions {
  slots?: number;
  rotateSeconds?: number;
  optimisticSeconds?: number;
  random?: () => number;
}

/** The decision that unchokes nobody: shared, so an idle torrent's choker holds no Set of its own. */
const NOBODY: ReadonlySet<string> = new Set();

export class Choker {
  readonly slots: number;
  private readonly rotateMs: number;
  private readonly optimisticMs: number;
  private readonly random: () => number;
  private lastRotate = -Infinity;
  private lastOptimistic = -Infinity;
  private optimistic: string | undefined;
  /** The last decision; undefined when it unchoked nobody. */
  private unchoked: ReadonlySet<string> | undefined;

  constructor(options: ChokerOptions = {}) {
    this.slots = Math.max(1, options.slots ?? 4);
    this.rotateMs = (options.rotateSeconds ?? 10) * 1000;
    this.optimisticMs = (options.optimisticSeconds ?? 30) * 1000;
    this.random = options.random ?? Math.random;
  }

  /** The peer holding the optimistic unchoke, if one does. */
  get optimisticPeer(): string | undefined {
    return this.optimistic;
  }

  /** The peers unchoked by the last decision. */
  get current(): ReadonlySet<string> {
    return this.unchoked ?? NOBODY;
  }

  /**
   * Answers the set of peers to unchoke. Re-decides when the rotation is
   * due or `force` is set (a slot holder left or lost interest); otherwise
   * keeps the last decision, minus peers that are gone.
   */
  decide(peers: readonly ChokeCandidate[], seeding: boolean, now: number, force = false): ReadonlySet<string> {
    const byId = new Map(peers.map((p) => [p.id, p]));
    const holderGone = [...this.current].some((id) => !byId.get(id)?.interested);
    if (!force && !holderGone && now - this.lastRotate < this.rotateMs) return this.current;
    this.lastRotate = now;

    const rate = (p: ChokeCandidate): number => (seeding ? p.uploadRate : p.downloadRate);
    const eligible = peers.filter((p) => p.interested && (seeding || !p.snubbed));
    eligible.sort((a, b) => rate(b) - rate(a));

    if (this.optimistic !== undefined && !byId.get(this.optimistic)?.interested) this.optimistic = undefined;
    const regular = eligible.slice(0, this.slots - 1).map((p) => p.id);
    const next = new Set(regular);

    if (now - this.lastOptimistic >= this.optimisticMs || this.optimistic === undefined || next.has(this.optimistic)) {
      const choked = peers.filter((p) => p.interested && !next.has(p.id));
      if (choked.length > 0) {
        this.optimistic = choked[Math.floor(this.random() * choked.length)]!.id;
        this.lastOptimistic = now;
      } else {
        this.optimistic = undefined;
      }
    }
    if (this.optimistic !== undefined) next.add(this.optimistic);
    // Slots the optimistic pick did not need go to the next best peers.
    for (const p of eligible) {
      if (next.size >= this.slots) break;
      next.add(p.id);
    }
    this.unchoked = next.size > 0 ? next : undefined;
    return next;
  }
}
