import { parseArgs } from 'node:util';
import { CliError, UsageError } from '../cli-error.js';
import { checked, defaultResumeDir, parseListen, parseDht, parsePeerAddress, parseEncryption, refusedText, reportUntilStopped, startEmbedded, tickLine } from '../embedded.js';
import { ProgressBar } from '../progress.js';
import { trackerReporting } from '../tracker-events.js';
import { parseLimits } from './download.js';
import { loadTorrentFile } from './inspect.js';

export const seedUsage = 'seedbox seed <file.torrent> --data DIR [--listen [HOST:]PORT] [--peer HOST:PORT ...] [--json] [--max-peers N] [--resume-dir DIR] [--no-trackers] [--announce-ip HOST] [--download-limit RATE] [--upload-limit RATE] [--encryption prefer|require|disable] [--dht-bootstrap HOST:PORT,... | --no-dht]';

/**
 * Seeds a torrent from DIR (the folder that holds <name>, as --out does for
 * download): checks the data, then serves it until SIGINT/SIGTERM. Pieces
 * that fail their check are not served; with --peer, missing pieces are
 * fetched from those peers meanwhile.
 */
export async function seed(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        data: { type: 'string', short: 'd' },
        listen: { type: 'string' },
        peer: { type: 'string', multiple: true },
        json: { type: 'boolean' },
        'max-peers': { type: 'string' },
        'resume-dir': { type: 'string' },
        'no-trackers': { type: 'boolean' },
        'announce-ip': { type: 'string' },
        'download-limit': { type: 'string' },
        'upload-limit': { type: 'string' },
        encryption: { type: 'string' },
        'dht-bootstrap': { type: 'string' },
        'no-dht': { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: ${seedUsage}`);
  }
  const [torrentPath, ...extra] = parsed.positionals;
  if (torrentPath === undefined || extra.length > 0) throw new UsageError(`usage: ${seedUsage}`);
  const dir = parsed.values.data;
  if (!dir) throw new UsageError(`--data DIR is required; usage: ${seedUsage}`);
  const maxPeers = parsed.values['max-peers'] === undefined ? undefined : Number(parsed.values['max-peers']);
  if (maxPeers !== undefined && (!Number.isInteger(maxPeers) || maxPeers < 1)) throw new UsageError('--max-peers takes a positive integer');
  const peers = (parsed.values.peer ?? []).map(parsePeerAddress);
  const json = parsed.values.json ?? false;
  const limits = parseLimits(parsed.values);

  const meta = await loadTorrentFile(torrentPath);
  const emit = (o: Record<string, unknown>): void => {
    if (json) out.write(`${JSON.stringify({ time: Date.now(), ...o })}\n`);
  };
  const e = await startEmbedded({
    dir,
    resumeDir: parsed.values['resume-dir'] ?? defaultResumeDir(),
    listen: parsed.values.listen === undefined ? undefined : parseListen(parsed.values.listen),
    maxPeers,
    limits,
    trackers: !parsed.values['no-trackers'],
    announceHost: parsed.values['announce-ip'],
    encryption: parseEncryption(parsed.values.encryption),
    dht: parseDht(parsed.values['no-dht'], parsed.values['dht-bootstrap']),
    ...trackerReporting(json, emit, err),
  });
  try {
    const { engine } = e;
    const torrent = engine.add(meta, { data: await e.dataFor(meta), peers });
    const check = await checked(torrent);
    if (check.have.count === 0 && peers.length === 0 && !engine.canFindPeers(meta.infoHashHex)) {
      throw new CliError(`no verified data for ${meta.name} in ${dir}: nothing to seed`);
    }
    const line = {
      event: 'seeding',
      listenPort: engine.listenPort,
      piecesPresent: check.have.count,
      pieceCount: meta.pieceCount,
      fastPath: check.fastPath,
      connectionLimits: engine.connectionLimits,
    };
    if (json) out.write(`${JSON.stringify({ time: Date.now(), ...line })}\n`);
    else err.write(`seeding ${meta.name}: ${check.have.count} of ${meta.pieceCount} pieces, port ${engine.listenPort}; stop with Ctrl-C\n`);
    // Peers dropped for breaking a rule are worth a line: they are what interop problems look like.
    torrent.on('closed', (s, reason, error) => {
      if (error) emit({ event: 'peer-closed', peer: s.address, client: s.remoteClient ?? null, reason, error: error.message });
    });
    const bar = json ? undefined : new ProgressBar(err);
    await reportUntilStopped(engine, torrent, (snap, tick) => {
      if (json) out.write(`${JSON.stringify(tickLine(snap, tick))}\n`);
      else bar?.render(snap);
    });
    // What a public port got meanwhile: connections refused by the listener's limits, by reason.
    const connections = engine.connectionFigures();
    emit({ event: 'stopped', connections });
    const refused = refusedText(connections);
    if (!json && refused !== undefined) err.write(`\n${refused}\n`);
  } finally {
    await e.stop();
  }
  return 0;
}

export { CliError };
