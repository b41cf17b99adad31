import { networkInterfaces } from 'node:os';
import { formatPieceDataAddress, listenForPieceData, type PieceDataListener, type PieceWriteServer } from '@seedbox/cluster';
import { listenOrExplain, type DiskWriterConfig, type DiskWriterMetrics, type Logger } from '@seedbox/runtime';

/**
 * The disk-writer's end of the direct data path (SEEDBOX_PIECE_DATA=direct):
 * a TCP listener for pieces' bytes, and the address it is reached at, which
 * the writer gives in its answer to each offer it takes. The listener
 * starts before the piece server (which needs the address), so it is fed
 * the server once it exists; until then no offer was answered, so no write
 * id is expected and any bytes are refused.
 */
export interface DirectData {
  readonly address: string;
  serve(server: PieceWriteServer): void;
  close(): Promise<void>;
}

export async function startDirectData(config: DiskWriterConfig, log: Logger, m: DiskWriterMetrics): Promise<DirectData> {
  let server: PieceWriteServer | undefined;
  const listener: PieceDataListener = await listenOrExplain('SEEDBOX_PIECE_DATA_PORT (--piece-data-port)', config.pieceDataPort, () =>
    listenForPieceData({
      host: config.pieceDataHost,
      port: config.pieceDataPort,
      expect: (writeId) => server?.expectDirect(writeId),
      onPiece: (writeId, data) => {
        m.pieceDataBytes.inc(data.byteLength);
        server?.takeDirect(writeId, data);
      },
      onRefused: (reason, code) => {
        m.pieceDataRefused.inc({ reason: code });
        log.warn('direct data refused', { reason });
      },
    }),
  );
  const address = formatPieceDataAddress(config.pieceDataAddress ?? advertised(config.pieceDataHost), listener.port);
  log.info('direct data path listening', { host: listener.host, port: listener.port, address });
  return {
    address,
    serve: (s) => (server = s),
    close: () => listener.close(),
  };
}

/** The address to give workers when none is set: the one listened on, or this machine's first that is not loopback. */
function advertised(host: string): string {
  if (host !== '0.0.0.0' && host !== '::') return host;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  }
  return '127.0.0.1';
}
