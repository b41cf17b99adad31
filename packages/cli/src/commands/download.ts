import { parseArgs } from 'node:util';
import { DiskWriter } from '@seedbox/disk-writer';
import { PeerWorker, type PeerAddress, type TorrentTick } from '@seedbox/peer-worker';
import { CliError, UsageError } from '../cli-error.js';
import { ProgressBar } from '../progress.js';
import { loadTorrentFile } from './inspect.js';

export const downloadUsage =
  'seedbox download <file.torrent> --out DIR [--peer HOST:PORT ...] [--listen [HOST:]PORT] [--json] [--max-peers N] [--no-pipelining]';

/** Parses HOST:PORT, with [v6]:port for IPv6. */
export function parsePeerAddress(s: string): PeerAddress {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(s) ?? /^([^:\s]+):(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`--peer '${s}' is not HOST:PORT`);
  }
  return { host: m[1]!, port };
}

function parseListen(s: string): { host?: string; port: number } {
  const m = /^(?:(.+):)?(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen '${s}' is not [HOST:]PORT`);
  return m[1] ? { host: m[1], port } : { port };
}

/**
 * The embedded mode: a peer-worker and a disk-writer in this process,
 * joined by the in-process PieceSink, the same interface the cluster joins
 * over NATS. Exits 0 only once every piece is verified on disk.
 */
export async function download(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const parsed = parseDownloadArgs(argv);
  const [torrentPath, ...extra] = parsed.positionals;
  if (torrentPath === undefined || extra.length > 0) throw new UsageError(`usage: ${downloadUsage}`);
  const outDir = parsed.values.out;
  if (!outDir) throw new UsageError(`--out DIR is required; usage: ${downloadUsage}`);
  const peers = (parsed.values.peer ?? []).map(parsePeerAddress);
  const maxPeers = parsed.values['max-peers'] === undefined ? undefined : Number(parsed.values['max-peers']);
  if (maxPeers !== undefined && (!Number.isInteger(maxPeers) || maxPeers < 1)) throw new UsageError('--max-peers takes a positive integer');
  const listen = parsed.values.listen === undefined ? undefined : parseListen(parsed.values.listen);

  const meta = await loadTorrentFile(torrentPath);
  if (peers.length === 0) {
    throw new CliError('no peers to download from: give --peer HOST:PORT (finding peers through trackers is not built yet)');
  }

  const writer = new DiskWriter();
  try {
    await writer.addTorrent(meta, outDir);
  } catch (e) {
    await writer.close();
    throw new CliError(`cannot prepare ${outDir}: ${(e as Error).message}`);
  }
  const worker = new PeerWorker({
    sink: writer,
    listen: listen ?? { host: '0.0.0.0', port: 0 },
    torrent: {
      ...(maxPeers !== undefined ? { maxPeers } : {}),
      ...(parsed.values['no-pipelining'] ? { pipeline: { disabled: true } } : {}),
    },
  });
  await worker.start();
  const torrent = worker.addTorrent(meta);
  const bar = parsed.values.json ? undefined : new ProgressBar(err);
  const started = performance.now();

  const result = await new Promise<{ ok: true } | { ok: false; reason: string }>((resolve) => {
    const onSignal = (): void => resolve({ ok: false, reason: 'interrupted' });
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const finish = (r: { ok: true } | { ok: false; reason: string }): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      resolve(r);
    };
    torrent.once('complete', () => finish({ ok: true }));
    torrent.once('error', (e) => finish({ ok: false, reason: e.message }));
    worker.on('tick', (t) => {
      const tick = t.torrents[0];
      if (!tick) return;
      report(tick, t.time);
      if (!tick.complete && !torrent.hasPeerProspects()) {
        finish({ ok: false, reason: `no peer could be reached (${peers.map((p) => `${p.host}:${p.port}`).join(', ')})` });
      }
    });
    if (torrent.isComplete) finish({ ok: true });
    torrent.addPeers(peers);
  });

  function report(tick: TorrentTick, time: number): void {
    if (parsed.values.json) {
      out.write(`${JSON.stringify({ time, ...tick, eta: tick.eta ?? null })}\n`);
    } else {
      bar?.render(tick);
    }
  }

  // Read before stopping: stopping closes the sessions.
  const sources = torrent.peerContributions();
  await worker.stop();
  await writer.close();
  const final = worker.tick().torrents[0] ?? torrent.tick();
  const seconds = (performance.now() - started) / 1000;
  if (parsed.values.json) {
    out.write(`${JSON.stringify({ time: Date.now(), ...final, eta: null, done: result.ok, seconds, sources })}\n`);
  } else {
    bar?.finish(final, seconds);
  }
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
        'max-peers': { type: 'string' },
        'no-pipelining': { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}; usage: ${downloadUsage}`);
  }
}
