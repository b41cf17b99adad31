import { parseArgs } from 'node:util';
import { formatPeerAddress, isMagnetUri, type Metainfo } from '@seedbox/protocol';
import { MetadataFetchError, type EngineTick, type ResolvedMagnet, type Torrent } from '@seedbox/peer-worker/embedded';
import { CliError, UsageError } from '../cli-error.js';
import {
  checked,
  defaultResumeDir,
  onStopSignal,
  parseListen,
  parsePeerAddress,
  reportUntilStopped,
  parseDht,
  parseEncryption,
  startEmbedded,
  tickLine,
  type Embedded,
  type TorrentSnapshot,
} from '../embedded.js';
import { formatBytes } from '../format.js';
import { filePriorities, type FileChoice } from '../file-select.js';
import { parseMagnetArg } from '../magnet.js';
import { parseRate } from '../rate.js';
import { ProgressBar } from '../progress.js';
import { trackerReporting } from '../tracker-events.js';
import { loadTorrentFile } from './inspect.js';

export { parsePeerAddress };

export const downloadUsage =
  'seedbox download <file.torrent | magnet-uri> --out DIR [--peer HOST:PORT ...] [--seed] [--listen [HOST:]PORT] [--json] [--max-peers N] [--resume-dir DIR] [--no-pipelining] [--no-trackers] [--announce-ip HOST] [--metadata-timeout SECONDS] [--only LIST | --skip LIST] [--sequential] [--first-last] [--download-limit RATE] [--upload-limit RATE] [--encryption prefer|require|disable] [--dht-bootstrap HOST:PORT,... | --no-dht]';

/** How long a magnet link's metadata may take by default: trackers answer within seconds, but peers may take a while to appear. */
const DEFAULT_METADATA_TIMEOUT_S = 300;

type Outcome = { ok: true } | { ok: false; reason: string };

/**
 * Downloads a torrent in this process (embedded mode). Existing data is
 * checked first and only missing pieces are fetched. Exits 0 only once
 * every piece is verified on disk; with --seed it then keeps seeding until
 * stopped (SIGINT/SIGTERM).
 *
 * A magnet link first has its info dictionary fetched from peers (BEP 9,
 * see magnet.ts); the download then runs as for a .torrent file.
 */
export async function download(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const parsed = parseDownloadArgs(argv);
  const [target, ...extra] = parsed.positionals;
  if (target === undefined || extra.length > 0) throw new UsageError(`usage: ${downloadUsage}`);
  const outDir = parsed.values.out;
  if (!outDir) throw new UsageError(`--out DIR is required; usage: ${downloadUsage}`);
  const peers = (parsed.values.peer ?? []).map(parsePeerAddress);
  const maxPeers = parsed.values['max-peers'] === undefined ? undefined : Number(parsed.values['max-peers']);
  if (maxPeers !== undefined && (!Number.isInteger(maxPeers) || maxPeers < 1)) throw new UsageError('--max-peers takes a positive integer');
  const listen = parsed.values.listen === undefined ? undefined : parseListen(parsed.values.listen);
  const json = parsed.values.json ?? false;
  const metadataTimeout = parsed.values['metadata-timeout'] === undefined ? DEFAULT_METADATA_TIMEOUT_S : Number(parsed.values['metadata-timeout']);
  if (!(metadataTimeout > 0)) throw new UsageError('--metadata-timeout takes a positive number of seconds');

  const limits = parseLimits(parsed.values);

  const emit = (o: Record<string, unknown>): void => {
    if (json) out.write(`${JSON.stringify({ time: Date.now(), ...o })}\n`);
  };
  const magnetArg = isMagnetUri(target) ? parseMagnetArg(target) : undefined;
  const meta = magnetArg ? undefined : await loadTorrentFile(target);
  // File numbers are checked against the torrent before anything starts (for a magnet link, once its metadata is in).
  const choice: FileChoice = { only: parsed.values.only, skip: parsed.values.skip };
  const files = (m: Metainfo) => ({ priorities: filePriorities(m, choice), sequential: parsed.values.sequential, firstLastPiece: parsed.values['first-last'] });
  if (meta) files(meta);
  const e = await startEmbedded({
    dir: outDir,
    resumeDir: parsed.values['resume-dir'] ?? defaultResumeDir(),
    listen,
    maxPeers,
    noPipelining: parsed.values['no-pipelining'],
    limits,
    trackers: !parsed.values['no-trackers'],
    announceHost: parsed.values['announce-ip'],
    encryption: parseEncryption(parsed.values.encryption),
    dht: parseDht(parsed.values['no-dht'], parsed.values['dht-bootstrap']),
    ...trackerReporting(json, emit, err),
  });
  try {
    return await run(e);
  } finally {
    await e.stop();
  }

  async function run(e: Embedded): Promise<number> {
    const { engine } = e;
    let torrent: Torrent;
    if (magnetArg) {
      // The info dictionary first (BEP 9), from x.pe, --peer and whoever the link's trackers return;
      // the trackers are announced to once, for both phases.
      if (!json) err.write('fetching the metadata from peers\n');
      let resolved: ResolvedMagnet;
      const unsignal = onStopSignal(() => void engine.stop());
      try {
        ({ torrent, resolved } = await engine.addMagnet(magnetArg, { data: (m) => e.dataFor(m), files, peers, timeoutMs: metadataTimeout * 1000 }));
      } catch (x) {
        if (x instanceof MetadataFetchError) {
          if (x.code === 'METADATA_STOPPED') throw new CliError('interrupted');
          if (x.code === 'METADATA_NO_SOURCES') throw new CliError(`no peers to fetch the metadata from: ${magnetArg.trackers.length === 0 ? 'the magnet link has no trackers (tr)' : 'trackers are off (--no-trackers)'} and no peers (x.pe); give --peer HOST:PORT`);
          throw new CliError(x.message);
        }
        throw x;
      } finally {
        unsignal();
      }
      const m = resolved.meta;
      emit({
        event: 'metadata',
        infoHash: m.infoHashHex,
        name: m.name,
        metadataSize: m.infoBytes.length,
        metadataPieces: resolved.stats.pieceCount ?? null,
        sources: resolved.stats.sources,
        hashFailures: resolved.stats.hashFailures,
        seconds: resolved.seconds,
      });
      if (!json) err.write(`metadata: ${m.name}, ${formatBytes(m.totalLength)} in ${m.pieceCount} pieces (${resolved.seconds.toFixed(1)} s)\n`);
    } else {
      torrent = engine.add(meta!, { data: await e.dataFor(meta!), files: files(meta!), peers });
    }
    const info: Metainfo = torrent.meta;
    const check = await checked(torrent);
    const bar = json ? undefined : new ProgressBar(err);
    const started = performance.now();
    emit({ event: 'checked', piecesPresent: check.have.count, pieceCount: info.pieceCount, fastPath: check.fastPath, listenPort: engine.listenPort });
    if (!json && check.have.count > 0) {
      err.write(`found ${check.have.count} of ${info.pieceCount} pieces on disk (${check.fastPath ? 'resume data' : 'verified'})\n`);
    }
    // Peers dropped for breaking a rule are worth a line: they are what interop problems look like.
    torrent.on('closed', (s, reason, error) => {
      if (error) emit({ event: 'peer-closed', peer: s.address, client: s.remoteClient ?? null, reason, error: error.message });
    });
    const report = (snap: TorrentSnapshot, tick: EngineTick): void => {
      if (json) out.write(`${JSON.stringify(tickLine(snap, tick))}\n`);
      else bar?.render(snap);
    };

    const canFind = engine.canFindPeers(info.infoHashHex);
    let result: Outcome;
    if (torrent.isDone) {
      result = { ok: true };
    } else if (peers.length === 0 && !canFind && !magnetArg) {
      throw new CliError(
        parsed.values['no-trackers'] || info.announce.length === 0
          ? `no peers to download from: ${info.announce.length === 0 ? 'the torrent lists no trackers' : 'trackers are off (--no-trackers)'}; give --peer HOST:PORT`
          : 'no peers to download from',
      );
    } else {
      result = await new Promise<Outcome>((resolve) => {
        const unsignal = onStopSignal(() => finish({ ok: false, reason: 'interrupted' }));
        const onTick = (t: EngineTick): void => {
          const snap = torrent.snapshot();
          report(snap, t);
          // With trackers, the engine asks them again when peers run out, as any
          // client does; with only --peer there is nobody else to ask.
          if (!snap.done && !canFind && !torrent.hasPeerProspects()) {
            finish({ ok: false, reason: `no peer could be reached (${peers.map((p) => formatPeerAddress(p.host, p.port)).join(', ')})` });
          }
        };
        const finish = (r: Outcome): void => {
          unsignal();
          engine.off('tick', onTick);
          torrent.off('complete', onComplete);
          torrent.off('error', onError);
          resolve(r);
        };
        const onComplete = (): void => finish({ ok: true });
        const onError = (x: Error): void => finish({ ok: false, reason: x.message });
        torrent.on('complete', onComplete);
        torrent.on('error', onError);
        engine.on('tick', onTick);
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const sources = torrent.peerContributions();
    const done = torrent.snapshot();
    if (json) emit({ ...done, eta: null, done: result.ok, seconds, sources, ...(choice.only ?? choice.skip ? { files: torrent.fileProgress().filter((f) => !f.padding) } : {}) });
    else bar?.finish(done, seconds);

    if (result.ok && parsed.values.seed) {
      if (!json) err.write(`seeding on port ${engine.listenPort}; stop with Ctrl-C\n`);
      emit({ event: 'seeding', listenPort: engine.listenPort });
      await reportUntilStopped(engine, torrent, report);
    }
    if (!result.ok) throw new CliError(result.reason);
    return 0;
  }
}

/** --download-limit and --upload-limit (see rate-limit.ts for the syntax): the engine's limits, for every torrent of the process. */
export function parseLimits(values: { 'download-limit'?: string | undefined; 'upload-limit'?: string | undefined }): { download?: number; upload?: number } {
  return {
    ...(values['download-limit'] !== undefined ? { download: parseRate(values['download-limit'], '--download-limit') } : {}),
    ...(values['upload-limit'] !== undefined ? { upload: parseRate(values['upload-limit'], '--upload-limit') } : {}),
  };
}

function parseDownloadArgs(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        out: { type: 'string', short: 'o' },
        peer: { type: 'string', multiple: true },
        listen: { type: 'string' },
        json: { type: 'boolean' },
        seed: { type: 'boolean' },
        'max-peers': { type: 'string' },
        'resume-dir': { type: 'string' },
        'no-pipelining': { type: 'boolean' },
        'no-trackers': { type: 'boolean' },
        'announce-ip': { type: 'string' },
        'metadata-timeout': { type: 'string' },
        only: { type: 'string' },
        skip: { type: 'string' },
        sequential: { type: 'boolean' },
        'first-last': { type: 'boolean' },
        'download-limit': { type: 'string' },
        'upload-limit': { type: 'string' },
        encryption: { type: 'string' },
        'dht-bootstrap': { type: 'string' },
        'no-dht': { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: ${downloadUsage}`);
  }
}
