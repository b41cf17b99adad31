import type { FleetStore, RegistryEntry } from '@seedbox/cluster';
import type { Metainfo } from '@seedbox/protocol';
import type { Logger } from '@seedbox/runtime';

/**
 * A move of a torrent's content to another save folder, as its owner
 * carries it out: the data is moved (in the fleet a disk-writer does it),
 * then the registry entry points at the new folder, and every worker
 * follows. A move that fails is given up: the torrent runs again from
 * where it was, and the entry says why, so every API shows it rather than
 * only this worker's log.
 */
export async function moveTorrent(
  o: { state: FleetStore; log: Logger; moveData: (meta: Metainfo, from: string | undefined, to: string) => Promise<void> },
  hex: string,
  entry: RegistryEntry,
  meta: Metainfo,
): Promise<void> {
  const to = entry.moveTo!;
  try {
    await o.moveData(meta, entry.settings.savePath, to);
    await o.state.updateTorrent(hex, (e) => (e.moveTo === to ? { ...e, settings: { ...e.settings, savePath: to }, moveTo: undefined, moveError: undefined } : undefined));
    o.log.info('torrent data moved', { infoHash: hex, to });
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    o.log.warn('moving torrent data failed', { infoHash: hex, to, error: e as Error });
    await o.state
      .updateTorrent(hex, (x) => (x.moveTo === to ? { ...x, moveTo: undefined, moveError: { to, message, at: Date.now() } } : undefined))
      .catch((err: unknown) => o.log.warn('recording the failed move failed', { infoHash: hex, error: err as Error }));
  }
}
