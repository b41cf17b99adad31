import { encodeBencode, parseMagnet, type Magnet, type PeerAddress } from '@seedbox/protocol';
import type { FleetStore, RegistryEntry } from '@seedbox/cluster';
import type { Logger } from '@seedbox/runtime';
import type { ResolvedMagnet } from '../magnet-resolver.js';

/**
 * The fleet's side of a magnet link: registry entries still without their
 * metadata (RegistryEntry.magnet) are resolved by the torrent's owner, the
 * worker that will download it (the same rendezvous owner FleetRunner
 * uses), so a magnet added on any replica, or before a restart, is taken
 * up by whoever owns it now.
 *
 * The owner fetches the info dictionary (BEP 9) with the engine's
 * fetchMetadata, the trackers announcing the swarm meanwhile, and writes
 * the .torrent into the entry with compare-and-set, clearing `magnet`;
 * from then on it is a torrent like any other. A failed attempt is
 * recorded in the entry (`metadataError`, which the APIs show) and made
 * again `retryMs` later. A paused entry is not fetched, and an attempt
 * whose entry is paused, removed or owned elsewhere now is given up.
 *
 * Two owners at once (ownership moved mid-fetch, a heartbeat that
 * flapped) are harmless: both fetch the same dictionary, whose SHA-1 is
 * the info hash, and the first write wins; the second finds the entry
 * resolved and leaves it.
 */

export interface MagnetOwnerOptions {
  state: Pick<FleetStore, 'updateTorrent'>;
  /** Fetches a magnet's metadata (the engine's fetchMetadata); rejects once the signal aborts. */
  fetch: (magnet: Magnet, signal: AbortSignal) => Promise<ResolvedMagnet>;
  log: Logger;
  /** How long after a failed attempt the next one starts. Default 60 s. */
  retryMs?: number | undefined;
  now?: () => number;
  /** An attempt ended, either way: the caller may want to sync again. */
  onSettled?: () => void;
}

interface Attempt {
  abort: AbortController;
  done: Promise<void>;
}

export const METADATA_RETRY_MS = 60_000;

export class MagnetOwner {
  private readonly attempts = new Map<string, Attempt>();
  /**
   * Not before this time (ms since the epoch): after a failure here, and
   * after a success, until the store's watch brings the resolved entry.
   */
  private readonly retryAt = new Map<string, number>();
  /** Peers that gave the metadata, for the download's first peers on this worker. */
  private readonly found = new Map<string, PeerAddress[]>();
  private readonly now: () => number;
  private readonly retryMs: number;
  private stopped = false;

  constructor(private readonly o: MagnetOwnerOptions) {
    this.now = o.now ?? Date.now;
    this.retryMs = o.retryMs ?? METADATA_RETRY_MS;
  }

  /** The magnets being fetched here now. */
  get fetching(): string[] {
    return [...this.attempts.keys()];
  }

  /**
   * Starts an attempt for each running entry this worker owns (unless the
   * last one here failed less than `retryMs` ago) and gives up the
   * attempts whose entry is no longer that.
   */
  sync(awaiting: Iterable<RegistryEntry>, owns: (infoHashHex: string) => boolean): void {
    if (this.stopped) return;
    const now = this.now();
    const wanted = new Set<string>();
    for (const e of awaiting) {
      if (e.magnet === undefined || e.desired !== 'running' || !owns(e.infoHashHex)) continue;
      wanted.add(e.infoHashHex);
      if (!this.attempts.has(e.infoHashHex) && now >= (this.retryAt.get(e.infoHashHex) ?? 0)) this.start(e.infoHashHex, e.magnet);
    }
    for (const [hex, a] of this.attempts) if (!wanted.has(hex)) a.abort.abort();
    // Forget what is not waiting here any more: a retry time (another owner, a removal), peers the download did not take.
    for (const hex of this.retryAt.keys()) if (!wanted.has(hex)) this.retryAt.delete(hex);
    for (const hex of this.found.keys()) if (!wanted.has(hex)) this.found.delete(hex);
  }

  /** The peers that gave this torrent's metadata here, once: good first peers for its download. */
  takePeers(infoHashHex: string): PeerAddress[] | undefined {
    const peers = this.found.get(infoHashHex);
    this.found.delete(infoHashHex);
    return peers;
  }

  /** Gives up every attempt and waits for them to end (before the engine stops). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const a of this.attempts.values()) a.abort.abort();
    await Promise.all([...this.attempts.values()].map((a) => a.done));
  }

  private start(hex: string, uri: string): void {
    const abort = new AbortController();
    const done = this.attempt(hex, uri, abort.signal).finally(() => {
      this.attempts.delete(hex);
      if (!this.stopped) this.o.onSettled?.();
    });
    this.attempts.set(hex, { abort, done });
  }

  private async attempt(hex: string, uri: string, signal: AbortSignal): Promise<void> {
    const { log, state } = this.o;
    try {
      const magnet = parseMagnet(uri);
      if (magnet.infoHashHex !== hex) throw new Error(`the entry's magnet link names another torrent (${magnet.infoHashHex})`);
      log.info('fetching magnet metadata', { infoHash: hex, trackers: magnet.trackers.length, peers: magnet.peers.length });
      const resolved = await this.o.fetch(magnet, signal);
      const torrentFile = torrentFileFromInfo(resolved.meta.infoBytes, magnet.trackers);
      this.found.set(hex, resolved.peers);
      this.retryAt.set(hex, this.now() + this.retryMs);
      // Whoever wrote first won: an entry already resolved (or removed) is left as it is.
      let written = false;
      await state.updateTorrent(hex, (e) => {
        // The last call is the one that counts (compare-and-set may call it again).
        written = e.magnet !== undefined;
        return written ? { ...e, torrentFile, magnet: undefined, metadataError: undefined } : undefined;
      });
      log.info('magnet metadata in', { infoHash: hex, name: resolved.meta.name, seconds: Math.round(resolved.seconds * 10) / 10, sources: resolved.stats.sources, written });
    } catch (e) {
      if (signal.aborted) {
        log.info('magnet metadata fetch given up here', { infoHash: hex });
        return;
      }
      const message = e instanceof Error ? e.message : String(e);
      this.retryAt.set(hex, this.now() + this.retryMs);
      log.warn('fetching magnet metadata failed; will try again', { infoHash: hex, retryInSeconds: Math.round(this.retryMs / 1000), error: e as Error });
      await state
        .updateTorrent(hex, (x) => (x.magnet === undefined || x.metadataError === message ? undefined : { ...x, metadataError: message }))
        .catch((err: unknown) => log.warn('recording the failed metadata fetch failed', { infoHash: hex, error: err as Error }));
    }
  }
}

/**
 * A .torrent file around a fetched info dictionary: the dictionary's own
 * bytes (its SHA-1 is the info hash, so they are not re-encoded) and the
 * magnet's trackers, one per tier as BEP 12 reads a flat list.
 */
export function torrentFileFromInfo(infoBytes: Uint8Array, trackers: readonly string[]): Uint8Array {
  // Keys in order (announce < announce-list < info): the head is an encoded dictionary without its closing 'e'.
  const head =
    trackers.length > 0 ? Buffer.from(encodeBencode({ announce: trackers[0]!, 'announce-list': trackers.map((t) => [t]) })).subarray(0, -1) : Buffer.from('d');
  return Buffer.concat([head, Buffer.from('4:info'), infoBytes, Buffer.from('e')]);
}
