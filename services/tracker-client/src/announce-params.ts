import type { AnnounceEvent, AnnounceParams } from '@seedbox/protocol';
import type { AnnounceIdentity, TransferStats } from './announcer-types.js';

/**
 * What one announce says about us (pure): the identity, the figures of
 * the moment, the event, and the `tracker id` this tracker gave us.
 */
export function announceParams(
  o: { infoHash: Uint8Array; identity: AnnounceIdentity; numWant: number; trackerId: Uint8Array | undefined },
  stats: TransferStats,
  event: AnnounceEvent,
): AnnounceParams {
  const { identity, trackerId } = o;
  return {
    infoHash: o.infoHash,
    peerId: identity.peerId,
    port: identity.port,
    // Counters are whole, non-negative bytes on the wire; a stats source
    // that hands us -1 or 1.5 must not turn into a refused request.
    uploaded: wireCount(stats.uploaded),
    downloaded: wireCount(stats.downloaded),
    left: wireCount(stats.left),
    event,
    numWant: o.numWant,
    key: identity.key,
    ...(trackerId ? { trackerId } : {}),
    ...(identity.host !== undefined ? { ip: identity.host } : {}),
  };
}

function wireCount(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), Number.MAX_SAFE_INTEGER) : 0;
}
