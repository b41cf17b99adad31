import { createHash } from 'node:crypto';

/**
 * Rendezvous (highest random weight) hashing: the worker that owns a
 * torrent is the live one with the highest score for (worker, info hash).
 * Every worker computes the same answer from the same list of live
 * workers, without talking, and when the owner leaves only its torrents
 * move, each to its next-highest. Undefined for an empty list.
 */
export function rendezvousOwner(workers: readonly string[], infoHashHex: string): string | undefined {
  let best: string | undefined;
  let bestScore = -1n;
  for (const id of workers) {
    const score = createHash('sha1').update(`${id}\u0000${infoHashHex}`).digest().readBigUInt64BE(0);
    if (score > bestScore || (score === bestScore && best !== undefined && id < best)) {
      best = id;
      bestScore = score;
    }
  }
  return best;
}
