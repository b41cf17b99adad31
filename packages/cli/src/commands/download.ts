import { parseArgs } from 'node:util';
import { isMagnetUri, type Metainfo } from '@seedbox/protocol';
import { CliError, UsageError } from '../cli-error.js';
import {
  defaultResumeDir,
  onStopSignal,
  parseListen,
  parsePeerAddress,
  reportUntilStopped,
  startEmbedded,
  type TorrentTick,
} from '../embedded.js';
import { formatBytes } from '../format.js';
import { fetchMagnetMetadata, type ResolvedMagnet } from '../magnet.js';
import { ProgressBar } from '../progress.js';
import { trackerReporting } from '../tracker-events.js';
import { loadTorrentFile } from './inspect.js';

export { parsePeerAddress };

export const downloadUsage =
  'seedbox download <file.torrent | magnet-uri> --out DIR [--peer HOST:PORT ...] [--seed] [--listen [HOST:]PORT] [--json] [--max-peers N] [--resume-dir DIR] [--no-pipelining] [--no-trackers] [--announce-ip HOST] [--metadata-timeout SECONDS]';

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
  let peers = (parsed.values.peer ?? []).map(parsePeerAddress);
  const maxPeers = parsed.values['max-peers'] === undefined ? undefined : Number(parsed.values['max-peers']);
  if (maxPeers !== undefined && (!Number.isInteger(maxPeers) || maxPeers < 1)) throw new UsageError('--max-peers takes a positive integer');
  let listen = parsed.values.listen === undefined ? undefined : parseListen(parsed.values.listen);
  const json = parsed.values.json ?? false;
  const metadataTimeout = parsed.values['metadata-timeout'] === undefined ? DEFAULT_METADATA_TIMEOUT_S : Number(parsed.values['metadata-timeout']);
  if (!(metadataTimeout > 0)) throw new UsageError('--metadata-timeout takes a positive number of seconds');

  const emit = (o: Record<string, unknown>): void => {
    if (json) out.write(`${JSON.stringify({ time: Date.now(), ...o })}\n`);
  };
  const trackerEvents = trackerReporting(json, emit, err);
  let meta: Metainfo;
  let magnet: ResolvedMagnet | undefined;
  if (isMagnetUri(target)) {
    magnet = await fetchMagnetMetadata({
      onStart: () => {
        if (!json) err.write('fetching the metadata from peers\n');
      },
      uri: target,
      peers,
      listen,
      trackers: !parsed.values['no-trackers'],
      announceHost: parsed.values['announce-ip'],
      timeoutMs: metadataTimeout * 1000,
      ...trackerEvents,
    });
    meta = magnet.meta;
    peers = magnet.peers;
    // The port the trackers were given, now the download's.
    listen = magnet.listen;
    emit({
      event: 'metadata',
      infoHash: meta.infoHashHex,
      name: meta.name,
      metadataSize: meta.infoBytes.length,
      metadataPieces: magnet.stats.pieceCount ?? null,
      sources: magnet.stats.sources,
      hashFailures: magnet.stats.hashFailures,
      seconds: magnet.seconds,
    });
    if (!json) err.write(`metadata: ${meta.name}, ${formatBytes(meta.totalLength)} in ${meta.pieceCount} pieces (${magnet.seconds.toFixed(1)} s)\n`);
  } else {
    meta = await loadTorrentFile(target);
  }
  let e;
  try {
    e = await startEmbedded({
      meta,
      dir: outDir,
      resumeDir: parsed.values['resume-dir'] ?? defaultResumeDir(),
      listen,
      maxPeers,
      noPipelining: parsed.values['no-pipelining'],
      trackers: !parsed.values['no-trackers'],
      announceHost: parsed.values['announce-ip'],
      peerId: magnet?.peerId,
      trackerHandover: magnet?.tracker,
      ...trackerEvents,
    });
  } catch (x) {
    await magnet?.tracker?.tracker.stop();
    throw x;
  }
  const { worker, torrent, tracker } = e;
  const bar = json ? undefined : new ProgressBar(err);
  const started = performance.now();
  emit({ event: 'checked', piecesPresent: e.check.present, pieceCount: meta.pieceCount, fastPath: e.check.fastPath, listenPort: worker.listenPort });
  if (!json && e.check.present > 0) {
    err.write(`found ${e.check.present} of ${meta.pieceCount} pieces on disk (${e.check.fastPath ? 'resume data' : 'verified'})\n`);
  }

  // Peers dropped for breaking a rule are worth a line: they are what interop problems look like.
  torrent.on('closed', (s, reason, error) => {
    if (error) emit({ event: 'peer-closed', peer: s.address, client: s.remoteClient ?? null, reason, error: error.message });
  });

  const report = (tick: TorrentTick, time: number): void => {
    if (json) out.write(`${JSON.stringify({ time, ...tick, eta: tick.eta ?? null })}\n`);
    else bar?.render(tick);
  };

  let result: Outcome;
  if (torrent.isComplete) {
    result = { ok: true };
  } else if (peers.length === 0 && !tracker) {
    await e.stop();
    throw new CliError(
      parsed.values['no-trackers'] || meta.announce.length === 0
        ? `no peers to download from: ${meta.announce.length === 0 ? 'the torrent lists no trackers' : 'trackers are off (--no-trackers)'}; give --peer HOST:PORT`
        : 'no peers to download from',
    );
  } else {
    result = await new Promise<Outcome>((resolve) => {
      const unsignal = onStopSignal(() => finish({ ok: false, reason: 'interrupted' }));
      const onTick = (t: { time: number; torrents: TorrentTick[] }): void => {
        const tick = t.torrents[0];
        if (!tick) return;
        report(tick, t.time);
        if (tick.complete || torrent.hasPeerProspects()) return;
        // With trackers, running out of peers means asking again (as soon as
        // their min interval allows) and waiting, as any client does; with
        // only --peer there is nobody else to ask.
        if (tracker) tracker.client.requestPeers(meta.infoHashHex);
        else finish({ ok: false, reason: `no peer could be reached (${peers.map((p) => `${p.host}:${p.port}`).join(', ')})` });
      };
      const finish = (r: Outcome): void => {
        unsignal();
        worker.off('tick', onTick);
        resolve(r);
      };
      torrent.once('complete', () => finish({ ok: true }));
      torrent.once('error', (x) => finish({ ok: false, reason: x.message }));
      worker.on('tick', onTick);
      if (peers.length > 0) torrent.addPeers(peers);
    });
  }
  const seconds = (performance.now() - started) / 1000;
  // Read before stopping: stopping closes the sessions.
  const sources = torrent.peerContributions();
  const done = torrent.tick();
  if (json) emit({ ...done, eta: null, done: result.ok, seconds, sources });
  else bar?.finish(done, seconds);

  if (result.ok && parsed.values.seed) {
    if (!json) err.write(`seeding on port ${worker.listenPort}; stop with Ctrl-C\n`);
    emit({ event: 'seeding', listenPort: worker.listenPort });
    await reportUntilStopped(worker, report);
  }
  await e.stop();
  if (!result.ok) throw new CliError(result.reason);
  return 0;
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
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: ${downloadUsage}`);
  }
}
