import { homedir } from 'node:os';
import { join } from 'node:path';
import { normalizeHost, parseHostPort, type Metainfo, type PeerAddress } from '@seedbox/protocol';
import { DiskWriter } from '@seedbox/disk-writer/disk-writer';
import {
  ENCRYPTION_POLICIES,
  Engine,
  EncryptionPolicyError,
  type BandwidthLimits,
  type ConnectionFigures,
  type EncryptionPolicy,
  type EngineTick,
  type Torrent,
  type TorrentData,
  type TorrentSnapshot,
} from '@seedbox/peer-worker/embedded';
import { localTorrentData } from '@seedbox/storage';
import { EmbeddedTrackers, parseDhtBootstrap, type AnnounceSuccess, type TrackerWarning } from '@seedbox/tracker-client/embedded';
import { CliError, UsageError } from './cli-error.js';

/**
 * The embedded mode: the engine, a disk-writer and the tracker-client in
 * this process, joined by the in-process PieceSink and PeerDiscovery, the
 * same interfaces the fleet joins over NATS. `download` and `seed` are two
 * uses of it; they parse arguments and render figures, the engine does
 * the rest.
 */

/** Where resume data lives unless --resume-dir says otherwise. */
export function defaultResumeDir(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'seedbox', 'resume');
}

/** Parses HOST:PORT, with [v6]:port for IPv6. */
export function parsePeerAddress(s: string): PeerAddress {
  const address = parseHostPort(s);
  if (!address) throw new UsageError(`--peer '${s}' is not HOST:PORT`);
  return address;
}

/** `--encryption`, else SEEDBOX_ENCRYPTION, else `prefer` (message stream encryption; see the README). */
export function parseEncryption(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): EncryptionPolicy {
  const [value, from] = flag !== undefined ? [flag, '--encryption'] : [env.SEEDBOX_ENCRYPTION, 'SEEDBOX_ENCRYPTION'];
  if (value === undefined || value === '') return 'prefer';
  if (!(ENCRYPTION_POLICIES as readonly string[]).includes(value)) throw new UsageError(`${from} '${value}' is not one of ${ENCRYPTION_POLICIES.join(', ')}`);
  return value as EncryptionPolicy;
}

/** The engine, with a policy it cannot keep (RC4 missing) as one line. */
function newEngine(options: ConstructorParameters<typeof Engine>[0]): Engine {
  try {
    return new Engine(options);
  } catch (e) {
    if (e instanceof EncryptionPolicyError) throw new CliError(e.message);
    throw e;
  }
}

/**
 * `--dht-bootstrap`, else SEEDBOX_DHT_BOOTSTRAP: HOST:PORT,... or `none`
 * (a DHT of its own, joined only by those who contact it); neither: the
 * public routers (undefined). `--no-dht`: no DHT at all (false).
 */
export function parseDht(noDht: boolean | undefined, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): { bootstrap: readonly PeerAddress[] } | false {
  if (noDht) return false;
  const [value, from] = flag !== undefined ? [flag, '--dht-bootstrap'] : [env.SEEDBOX_DHT_BOOTSTRAP, 'SEEDBOX_DHT_BOOTSTRAP'];
  try {
    return { bootstrap: parseDhtBootstrap(value) };
  } catch (e) {
    throw new UsageError(`${from} ${(e as Error).message}`);
  }
}

/** Parses [HOST:]PORT. */
export function parseListen(s: string): { host?: string; port: number } {
  const m = /^(?:(.+):)?(\d+)$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen '${s}' is not [HOST:]PORT`);
  return m[1] ? { host: m[1], port } : { port };
}

export interface EmbeddedOptions {
  /** The download folder: files land in DIR/<name>. */
  dir: string;
  resumeDir: string;
  listen: { host?: string; port: number } | undefined;
  maxPeers?: number | undefined;
  noPipelining?: boolean | undefined;
  /** The engine's speed limits, bytes/s (--download-limit, --upload-limit). */
  limits?: BandwidthLimits | undefined;
  /** Announce to the torrents' trackers and dial the peers they return. Default true. */
  trackers?: boolean | undefined;
  /** Find peers on the DHT (BEP 5) from these routers (default: the public ones); false: no DHT. */
  dht?: { bootstrap: readonly PeerAddress[] } | false | undefined;
  /** The address to announce (BEP 3 `ip`); default: the trackers see our source address. */
  announceHost?: string | undefined;
  /** Message stream encryption; default `prefer`. */
  encryption?: EncryptionPolicy | undefined;
  onTrackerWarning?: (w: TrackerWarning) => void;
  onAnnounce?: (s: AnnounceSuccess) => void;
}

export interface Embedded {
  engine: Engine;
  writer: DiskWriter;
  /** The in-process tracker-client, unless trackers are off. */
  trackers: EmbeddedTrackers | undefined;
  /** A torrent's data in the download folder: its files opened (created sparse) by the disk-writer, resume data kept. */
  dataFor(meta: Metainfo): Promise<TorrentData>;
  /** Stops everything: `stopped` to the trackers, pieces under way written, resume data saved. */
  stop(): Promise<void>;
}

export async function startEmbedded(o: EmbeddedOptions): Promise<Embedded> {
  if (o.announceHost !== undefined && normalizeHost(o.announceHost) === undefined) {
    throw new UsageError(`--announce-ip '${o.announceHost}' is not an IPv4 or IPv6 address`);
  }
  const writer = new DiskWriter();
  let trackers: EmbeddedTrackers | undefined;
  const engine = newEngine({
    sink: writer,
    listen: o.listen ?? { host: '0.0.0.0', port: 0 },
    limits: o.limits,
    encryption: o.encryption,
    torrent: {
      ...(o.maxPeers !== undefined ? { maxPeers: o.maxPeers } : {}),
      ...(o.noPipelining ? { pipeline: { disabled: true } } : {}),
    },
    // The same TrackerClient the fleet runs, fed by the engine's figures instead of NATS heartbeats.
    ...(o.trackers === false && !o.dht
      ? {}
      : {
          discovery: ({ peerId, listenPort }: { peerId: Uint8Array; listenPort: number | undefined }) =>
            (trackers = new EmbeddedTrackers({
              peerId,
              port: listenPort ?? 0,
              ...(o.announceHost !== undefined ? { host: o.announceHost } : {}),
              trackers: o.trackers !== false,
              ...(o.dht
                ? { dht: { bootstrap: o.dht.bootstrap, stateFile: join(o.resumeDir, '.dht-state.json') } }
                : {}),
              onWarning: o.onTrackerWarning ?? (() => {}),
              ...(o.onAnnounce ? { onAnnounce: o.onAnnounce } : {}),
            })),
        }),
  });
  try {
    await engine.start();
  } catch (e) {
    await writer.close();
    throw new CliError(`cannot listen: ${(e as Error).message}`);
  }
  let stopped = false;
  return {
    engine,
    writer,
    trackers,
    async dataFor(meta) {
      try {
        const storage = await writer.addTorrent(meta, o.dir);
        return localTorrentData(storage, writer.sha1, join(o.resumeDir, `${meta.infoHashHex}.json`));
      } catch (e) {
        throw new CliError(`cannot use ${o.dir}: ${(e as Error).message}`);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Every torrent leaves its swarm (`stopped`, with the final figures) and writes what is under way.
      await engine.stop();
      await trackers?.stop();
      await writer.close();
    },
  };
}

/** Resolves on SIGINT or SIGTERM; the returned function stops listening. */
export function onStopSignal(handler: () => void): () => void {
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Waits for the torrent's check; answers what it found, or throws the reason it failed. */
export function checked(torrent: Torrent, onProgress?: (snapshot: TorrentSnapshot) => void): Promise<NonNullable<Torrent['checked']>> {
  return new Promise((resolve, reject) => {
    const timer = onProgress ? setInterval(() => onProgress(torrent.snapshot()), 1000) : undefined;
    const done = (): void => {
      clearInterval(timer);
      torrent.off('checked', onChecked);
      torrent.off('error', onError);
    };
    const onChecked = (outcome: NonNullable<Torrent['checked']>): void => {
      done();
      resolve(outcome);
    };
    const onError = (e: Error): void => {
      done();
      reject(new CliError(e.message));
    };
    if (torrent.checked) return onChecked(torrent.checked);
    const now = torrent.snapshot();
    if (now.state === 'error') return onError(new Error(now.error ?? 'the check failed'));
    torrent.on('checked', onChecked);
    torrent.on('error', onError);
  });
}

/** Reports the torrent's figures every tick until SIGINT or SIGTERM: how both commands seed. */
export function reportUntilStopped(engine: Engine, torrent: Torrent, report: (snapshot: TorrentSnapshot, tick: EngineTick) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const onTick = (t: EngineTick): void => report(torrent.snapshot(), t);
    engine.on('tick', onTick);
    const unsignal = onStopSignal(() => {
      unsignal();
      engine.off('tick', onTick);
      resolve();
    });
  });
}

/** A tick's `--json` line for the torrent: its figures, and the process's connections (what the listener refused, by reason). */
export function tickLine(snapshot: TorrentSnapshot, tick: EngineTick): Record<string, unknown> {
  return { time: tick.time, ...snapshot, eta: snapshot.eta ?? null, connections: tick.connections };
}

/** The refusals in one line, most first ("1200 too-many-handshaking, 64 handshake-timeout"), or undefined for none. */
export function refusedText(c: ConnectionFigures): string | undefined {
  const counts = Object.entries(c.refused)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  if (counts.length === 0) return undefined;
  const total = counts.reduce((sum, [, n]) => sum + n, 0);
  return `refused ${total} incoming connection${total === 1 ? '' : 's'}: ${counts.map(([reason, n]) => `${n} ${reason}`).join(', ')}`;
}

export type { TorrentSnapshot };
