import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest random weight) hashing: the worker that owns a
 * torrent is the live one with the highest score for (worker, info hash),
 * and the ones that seed it are the few highest. Every worker computes the
 * same answer from the same list of live workers, without talking, and
 * when a worker leaves only its torrents move, each to the next-highest;
 * when one joins, it takes only the torrents it now scores highest for.
 */

function score(workerId: string, infoHashHex: string): bigint {
  return createHash('sha1').update(`${workerId}\u0000${infoHashHex}`).digest().readBigUInt64BE(0);
}

/** The live workers, highest score first (ties, which SHA-1 makes vanishingly rare, by id). */
export function rendezvousRank(workers: readonly string[], infoHashHex: string): string[] {
  return workers
    .map((id) => ({ id, s: score(id, infoHashHex) }))
    .sort((a, b) => (a.s === b.s ? (a.id < b.id ? -1 : 1) : a.s > b.s ? -1 : 1))
    .map((w) => w.id);
}

/** The owner: the highest-scoring live worker; undefined for an empty list. */
export function rendezvousOwner(workers: readonly string[], infoHashHex: string): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const id of workers) {
    const s = score(id, infoHashHex);
    if (s > bestScore || (s === bestScore && best !== undefined && id < best)) {
      best = id;
      bestScore = s;
    }
  }
  return best;
}

/** Whether `workerId` is among the `replicas` highest for the torrent (0: every worker is). */
export function amongReplicas(workers: readonly string[], infoHashHex: string, workerId: string, replicas: number): boolean {
  if (replicas === 0 || workers.length <= replicas) return true;
  return rendezvousRank(workers, infoHashHex).slice(0, replicas).includes(workerId);
}

/**
 * The answers above for one list of live workers, each torrent's ranking
 * worked out once and kept until the list changes (LiveWorkers hands out a
 * new array only then). The runner asks for every torrent it runs at each
 * tick (whose totals count time, who acts on seeding rules) and for every
 * torrent a sync reconciles: at 10,000 torrents that was 10,000 SHA-1s per
 * worker per second, for answers that change only when a worker comes or goes.
 */
export class RendezvousCache {
  private workers: readonly string[] = [];
  private readonly ranks = new Map<string, readonly string[]>();
  /** Rankings worked out (not taken from the cache) so far. */
  ranked = 0;

  /** The live workers, highest score first, for this list of workers. */
  rank(workers: readonly string[], infoHashHex: string): readonly string[] {
    // One worker (serve, or a fleet of one) ranks first for every torrent: nothing to hash or keep.
    if (workers.length <= 1) return workers;
    if (workers !== this.workers) {
      this.workers = workers;
      this.ranks.clear();
    }
    let rank = this.ranks.get(infoHashHex);
    if (!rank) {
      rank = rendezvousRank(workers, infoHashHex);
      this.ranks.set(infoHashHex, rank);
      this.ranked++;
    }
    return rank;
  }

  /** The owner: rendezvousOwner's answer. */
  owner(workers: readonly string[], infoHashHex: string): string | undefined {
    return this.rank(workers, infoHashHex)[0];
  }

  /** amongReplicas' answer. */
  amongReplicas(workers: readonly string[], infoHashHex: string, workerId: string, replicas: number): boolean {
    if (replicas === 0 || workers.length <= replicas) return true;
    const rank = this.rank(workers, infoHashHex);
    for (let i = 0; i < replicas; i++) if (rank[i] === workerId) return true;
    return false;
  }

  /** A torrent that left the registry. */
  forget(infoHashHex: string): void {
    this.ranks.delete(infoHashHex);
  }
}
