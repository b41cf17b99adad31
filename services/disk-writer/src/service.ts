import { rm } from 'node:fs/promises';
import type { Msg } from 'nats';
import { parseMetainfo } from '@seedbox/protocol';
import {
  answerStorageRequest,
  DISK_WRITERS,
  FleetState,
  normalizeSavePath,
  parseDeleteRequest,
  parseMoveRequest,
  servePieceWrites,
  STORAGE_DELETE,
  STORAGE_MOVE,
  type PieceSink,
  type ServiceDefinition,
} from '@seedbox/cluster';
import { createDiskWriterMetrics, diskWriterOptions, type DiskPieceResult } from '@seedbox/runtime';
import { DiskWriter, ioError } from './disk-writer.js';
import { WriteFigures } from './write-figures.js';
import { startDirectData } from './direct-data.js';
import { InlineSha1, moveTorrentContent, Sha1Pool, torrentDir, torrentRemovalPath } from '@seedbox/storage';

/**
 * The disk-writer process: takes pieces from the `disk-writers` queue
 * group, verifies and writes them under SEEDBOX_DATA_DIR (in the
 * torrent's save folder, see torrentDir), and deletes or moves a torrent's
 * files when asked. It learns a torrent's layout and folder from the
 * registry the first time a piece of it arrives, and again after a move.
 */
export const diskWriterService: ServiceDefinition<typeof diskWriterOptions> = {
  service: 'disk-writer',
  schema: diskWriterOptions,
  async start({ config, log, nc, registry, onShutdown, openPieceBus }) {
    const m = createDiskWriterMetrics(registry);
    const written = new WriteFigures();
    const state = await FleetState.open(nc);
    // 0 threads: on the event loop (SEEDBOX_HASH_THREADS's help says why that is the default here).
    const writer = new DiskWriter({ hasher: config.hashThreads === 0 ? new InlineSha1() : new Sha1Pool(config.hashThreads) });
    const opening = new Map<string, Promise<boolean | Error>>();
    /** Each open torrent: the save folder it was opened in, and the registry's recheck count its files were last looked at for (see the watch below). */
    const opened = new Map<string, { savePath: string | undefined; rechecks: number }>();

    /**
     * Opens a registered torrent's files: true when open, false when the
     * registry has no such torrent, the error when its files cannot be
     * opened (a read-only or full volume: io-error, so this writer steps back).
     */
    const ensure = (hex: string): Promise<boolean | Error> => {
      let p = opening.get(hex);
      if (!p) {
        p = (async () => {
          const entry = await state.getTorrent(hex);
          if (!entry) return false;
          try {
            await writer.addTorrent(parseMetainfo(entry.torrentFile), torrentDir(config.dataDir, hex, entry.settings.savePath));
            opened.set(hex, { savePath: entry.settings.savePath, rechecks: entry.rechecks });
            log.info('torrent opened', { infoHash: hex, savePath: entry.settings.savePath });
            return true;
          } catch (e) {
            log.error('cannot open torrent files', { infoHash: hex, error: e as Error });
            return e as Error;
          }
        })().finally(() => opening.delete(hex));
        opening.set(hex, p);
      }
      return p;
    };

    const sink: PieceSink = {
      async writePiece(w) {
        const outcome = await writer.writePiece(w);
        if (outcome.status !== 'unknown-torrent') return outcome;
        // Unknown means not opened yet, not necessarily unregistered: the blocks are untouched, so try once more.
        const opened = await ensure(w.infoHash.toLowerCase());
        if (opened instanceof Error) return ioError(new Error(`the torrent's files cannot be opened: ${opened.message}`, { cause: opened }), opened);
        return opened ? writer.writePiece(w) : outcome;
      },
    };

    const direct = config.pieceData === 'direct' ? await startDirectData(config, log, m) : undefined;
    const server = servePieceWrites({
      bus: await openPieceBus(),
      writerId: config.instanceId,
      sink,
      directAddress: direct?.address,
      onResult: ({ infoHash, index, outcome, bytes, seconds }) => {
        written.record(outcome, bytes);
        m.countPiece(outcome.status.replace('-', '_') as DiskPieceResult);
        if (outcome.status === 'written') {
          m.diskWrite.observe(seconds);
          m.writtenBytes.inc(bytes);
        } else {
          log.warn('piece not written', { infoHash, piece: index, outcome });
        }
      },
      onRefused: (reason) => log.warn('offer refused', { reason }),
      onStepBack: ({ reason, seconds }) => {
        m.stepBacks.inc();
        m.takingPieces.set(0);
        log.warn('stepping back from the disk-writers queue group', { reason, seconds });
      },
      onRejoin: () => {
        m.takingPieces.set(1);
        log.info('taking pieces again');
      },
    });
    direct?.serve(server);

    // Removed torrents: close their files (a later delete request removes
    // them). Moved ones too: the next piece opens them in the new folder.
    // A recheck (a resume from error among them) has the files looked at
    // afresh here too: one gone since it was seen (a volume mounted again,
    // files deleted) may then be created again (TorrentStorage.forgetFiles).
    const stopWatch = await state.watchTorrents(
      (hex, e) => {
        const o = opened.get(hex);
        if (!e || (o && o.savePath !== e.settings.savePath)) {
          opened.delete(hex);
          void writer.removeTorrent(hex);
        } else if (o && o.rechecks !== e.rechecks) {
          o.rechecks = e.rechecks;
          writer.storage(hex)?.forgetFiles();
        }
      },
      (key, err) => log.warn('bad registry entry', { key, error: err }),
    );

    const deletes = nc.subscribe(STORAGE_DELETE, {
      queue: DISK_WRITERS,
      callback: (_err, msg: Msg) => {
        void (async () => {
          try {
            const r = parseDeleteRequest(msg.data);
            // A folder from the request is checked like one from the API: never outside the data folder.
            const savePath = r.savePath === undefined ? undefined : normalizeSavePath(r.savePath, config.dataDir);
            await writer.removeTorrent(r.infoHash);
            opened.delete(r.infoHash);
            await rm(torrentRemovalPath(config.dataDir, r.infoHash, r.name ?? '', savePath), { recursive: true, force: true });
            log.info('torrent data deleted', { infoHash: r.infoHash });
            answerStorageRequest(msg);
          } catch (e) {
            log.error('deleting torrent data failed', { error: e as Error });
            answerStorageRequest(msg, e as Error);
          }
        })();
      },
    });
    const moves = nc.subscribe(STORAGE_MOVE, {
      queue: DISK_WRITERS,
      callback: (_err, msg: Msg) => {
        void (async () => {
          try {
            const r = parseMoveRequest(msg.data);
            const from = r.from === undefined ? undefined : normalizeSavePath(r.from, config.dataDir);
            const to = normalizeSavePath(r.to, config.dataDir);
            await moveTorrentContent(config.dataDir, r.infoHash, r.name, from, to);
            log.info('torrent data moved', { infoHash: r.infoHash, from, to });
            answerStorageRequest(msg);
          } catch (e) {
            log.error('moving torrent data failed', { error: e as Error });
            answerStorageRequest(msg, e as Error);
          }
        })();
      },
    });

    onShutdown('finish pieces under way', () => server.stop(Math.max(1000, config.shutdownTimeoutMs - 5000)));
    if (direct) onShutdown('close the direct data path', () => direct.close());
    onShutdown('close files', async () => {
      deletes.unsubscribe();
      moves.unsubscribe();
      stopWatch();
      await writer.close();
    });
    log.info('taking pieces', { chunkSubject: server.subject, dataDir: config.dataDir });
    // Pieces being assembled from chunks count as in progress too: the server knows both.
    return { figures: () => ({ ...written.figures(server.active) }) };
  },
};
