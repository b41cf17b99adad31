import type { NatsConnection, Subscription } from 'nats';
import { TRACKER_REANNOUNCE } from './subjects.js';

/**
 * A reannounce asked for through a control API (qBittorrent's
 * torrents/reannounce, Transmission's torrent-reannounce): a request on
 * `seedbox.tracker.reannounce` with the hex info hash, which the
 * tracker-client answers with how many announces (one per worker running
 * the torrent) it brought forward. A request rather than a publish, so
 * that a fleet without a tracker-client says so instead of doing nothing.
 */

export class ReannounceError extends Error {
  override readonly name = 'ReannounceError';
}

/** Asks for an announce now; answers the announces brought forward (0: no worker runs the torrent). Throws ReannounceError when no tracker-client answers. */
export async function requestReannounce(nc: NatsConnection, infoHashHex: string, timeoutMs = 2000): Promise<number> {
  let data: Uint8Array;
  try {
    data = (await nc.request(TRACKER_REANNOUNCE, new TextEncoder().encode(infoHashHex), { timeout: timeoutMs })).data;
  } catch (e) {
    throw new ReannounceError(`no tracker-client answered the reannounce: ${(e as Error).message}`, { cause: e });
  }
  const n = Number(new TextDecoder().decode(data));
  if (!Number.isSafeInteger(n) || n < 0) throw new ReannounceError(`the tracker-client answered the reannounce with '${new TextDecoder().decode(data).slice(0, 60)}'`);
  return n;
}

/** The tracker-client's side: `reannounce` brings the torrent's announces forward and answers how many. */
export function serveReannounces(nc: NatsConnection, reannounce: (infoHashHex: string) => number): Subscription {
  return nc.subscribe(TRACKER_REANNOUNCE, {
    callback: (_err, msg) => {
      const hex = new TextDecoder().decode(msg.data).trim().toLowerCase();
      const n = /^[0-9a-f]{40}$/.test(hex) ? reannounce(hex) : 0;
      try {
        msg.respond(new TextEncoder().encode(String(n)));
      } catch {
        // Closing: the asker's deadline covers it.
      }
    },
  });
}
