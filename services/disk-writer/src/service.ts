import { rm } from 'node:fs/promises';
import type { Msg } from 'nats';
import { parseMetainfo } from '@seedbox/protocol';
import { DISK_WRITERS, FleetState, servePieceWrites, STORAGE_DELETE, type PieceSink, type ServiceDefinition } from '@seedbox/cluster';
import { createDiskWriterMetrics, diskWriterOptions, type DiskPieceResult } from '@seedbox/runtime';
import { DiskWriter } from './disk-writer.js';
import { Sha1Pool, torrentDir } from '@seedbox/storage';

const HEX40 = /^[0-9a-f]{40}$/;

/**
 * The disk-writer process: takes pieces from the `disk-writers` queue
 * group, verifies and writes them under SEEDBOX_DATA_DIR/<infohash>, and
 * deletes a torrent's files when asked. It learns a torrent's layout from
 * the registry the first time a piece of it arrives.
 */
export const diskWriterService: ServiceDefinition<typeof diskWriterOptions> = {
  service: 'disk-writer',
  schema: diskWriterOptions,
  async start({ config, log, nc, registry, onShutdown }) {
    const m = createDiskWriterMetrics(registry);
    const state = await FleetState.open(nc);
    const writer = new DiskWriter({ hasher: new Sha1Pool(config.hashThreads) });
    const opening = new Map<string, Promise<boolean>>();

    /** Opens a registered torrent's files; false when the registry has no such torrent or it cannot be opened. */
    const ensure = (hex: string): Promise<boolean> => {
      let p = opening.get(hex);
      if (!p) {
        p = (async () => {
          const entry = await state.getTorrent(hex);
          if (!entry) return false;
          try {
            await writer.addTorrent(parseMetainfo(entry.torrentFile), torrentDir(config.dataDir, hex));
            log.info('torrent opened', { infoHash: hex });
            return true;
          } catch (e) {
            log.error('cannot open torrent files', { infoHash: hex, error: e as Error });
            return false;
          }
        })().finally(() => opening.delete(hex));
        opening.set(hex, p);
      }
      return p;
    };

    const sink: PieceSink = {
      async writePiece(w) {
        let outcome = await writer.writePiece(w);
        // Unknown means not opened yet, not necessarily unregistered: the blocks are untouched, so try once more.
        if (outcome.status === 'unknown-torrent' && (await ensure(w.infoHash.toLowerCase()))) outcome = await writer.writePiece(w);
        return outcome;
      },
    };

    const server = servePieceWrites({
      nc,
      writerId: config.instanceId,
      sink,
      onResult: ({ infoHash, index, outcome, bytes, seconds }) => {
        m.countPiece(outcome.status.replace('-', '_') as DiskPieceResult);
        if (outcome.status === 'written') {
          m.diskWrite.observe(seconds);
          m.writtenBytes.inc(bytes);
        } else {
          log.warn('piece not written', { infoHash, piece: index, outcome });
        }
      },
      onRefused: (reason) => log.warn('offer refused', { reason }),
    });

    // Removed torrents: close their files (a later delete request removes them).
    const stopWatch = await state.watchTorrents(
      (hex, e) => {
        if (!e) void writer.removeTorrent(hex);
      },
      (key, err) => log.warn('bad registry entry', { key, error: err }),
    );

    const deletes = nc.subscribe(STORAGE_DELETE, {
      queue: DISK_WRITERS,
      callback: (_err, msg: Msg) => {
        const hex = new TextDecoder().decode(msg.data).trim().toLowerCase();
        void (async () => {
          if (!HEX40.test(hex)) {
            msg.respond(new TextEncoder().encode(`error: '${hex.slice(0, 60)}' is not an info hash`));
            return;
          }
          try {
            await writer.removeTorrent(hex);
            await rm(torrentDir(config.dataDir, hex), { recursive: true, force: true });
            log.info('torrent data deleted', { infoHash: hex });
            msg.respond(new TextEncoder().encode('ok'));
          } catch (e) {
            log.error('deleting torrent data failed', { infoHash: hex, error: e as Error });
            msg.respond(new TextEncoder().encode(`error: ${(e as Error).message}`));
          }
        })();
      },
    });

    onShutdown('finish pieces under way', () => server.stop(Math.max(1000, config.shutdownTimeoutMs - 5000)));
    onShutdown('close files', async () => {
      deletes.unsubscribe();
      stopWatch();
      await writer.close();
    });
    log.info('taking pieces', { chunkSubject: server.subject, dataDir: config.dataDir });
    return {};
  },
};
