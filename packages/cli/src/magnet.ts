import { normalizeHost, parseInfoDictionary, parseMagnet, ProtocolError, type Magnet, type Metainfo } from '@seedbox/protocol';
import { generatePeerId, LEFT_WHILE_FETCHING_METADATA, MetadataFetcher, MetadataFetchError, type MetadataFetchStats, type PeerAddress } from '@seedbox/peer-worker';
import { startEmbeddedTracker, type AnnounceSuccess, type TrackerWarning, type WorkerTorrentStats } from '@seedbox/tracker-client';
import { CliError, UsageError } from './cli-error.js';
import { onStopSignal, parsePeerAddress, type TrackerHandover } from './embedded.js';

/**
 * `seedbox download <magnet-uri>`: before the download can start, the info
 * dictionary comes from peers (BEP 9). The peers are the link's `x.pe`,
 * `--peer`, and whoever its `tr` trackers return; the fetcher also listens,
 * for peers that find us through those trackers.
 *
 * The trackers are announced to once, for both phases: the tracker-client
 * started here is handed to the download (`TrackerHandover`), which takes
 * over its figures and its peers, on the same peer id and port. Stopping it
 * and starting another would tell every tracker we left and came back.
 */


export interface MagnetFetchOptions {
  uri: string;
  /** --peer */
  peers: PeerAddress[];
  listen: { host?: string; port: number } | undefined;
  trackers: boolean;
  announceHost: string | undefined;
  timeoutMs: number;
  onTrackerWarning: (w: TrackerWarning) => void;
  onAnnounce: (s: AnnounceSuccess) => void;
  /** The fetch has started (the link is good and there is somewhere to look). */
  onStart?: () => void;
}

export interface ResolvedMagnet {
  magnet: Magnet;
  meta: Metainfo;
  /** The peer id the fetch used, and the download must use. */
  peerId: Uint8Array;
  /** Where the fetch listened: the download listens there too, the port the trackers were given. */
  listen: { host?: string; port: number };
  /** x.pe, --peer, and the peers that had the metadata. */
  peers: PeerAddress[];
  tracker: TrackerHandover | undefined;
  stats: MetadataFetchStats;
  seconds: number;
}

export function parseMagnetArg(uri: string): Magnet {
  try {
    return parseMagnet(uri);
  } catch (err) {
    if (err instanceof ProtocolError) throw new CliError(`bad magnet URI: ${err.message}`);
    throw err;
  }
}

export async function fetchMagnetMetadata(o: MagnetFetchOptions): Promise<ResolvedMagnet> {
  const magnet = parseMagnetArg(o.uri);
  if (o.announceHost !== undefined && normalizeHost(o.announceHost) === undefined) {
    throw new UsageError(`--announce-ip '${o.announceHost}' is not an IPv4 or IPv6 address`);
  }
  const announce = magnet.trackers.map((t) => [t]);
  const givenPeers = dedupe([...magnet.peers.map(parsePeerAddress), ...o.peers]);
  const useTrackers = o.trackers && announce.length > 0;
  if (givenPeers.length === 0 && !useTrackers) {
    throw new CliError(
      `no peers to fetch the metadata from: ${announce.length === 0 ? 'the magnet link has no trackers (tr)' : 'trackers are off (--no-trackers)'} and no peers (x.pe); give --peer HOST:PORT`,
    );
  }

  const peerId = generatePeerId();
  const listenHost = o.listen?.host ?? '0.0.0.0';
  const fetcher = new MetadataFetcher({
    infoHash: magnet.infoHash,
    peerId,
    listen: { host: listenHost, port: o.listen?.port ?? 0 },
    timeoutMs: o.timeoutMs,
  });
  try {
    await fetcher.start();
  } catch (e) {
    throw new CliError(`cannot listen: ${(e as Error).message}`);
  }
  const port = fetcher.listenPort!;
  o.onStart?.();

  // The handover's figures and peer feed are switched to the torrent by attach().
  let stats: () => WorkerTorrentStats = () => ({ uploaded: 0, downloaded: 0, left: LEFT_WHILE_FETCHING_METADATA });
  let pending: PeerAddress[] = [];
  let feed: (peers: readonly PeerAddress[]) => void = (peers) => fetcher.addPeers(peers);
  const tracker = useTrackers
    ? startEmbeddedTracker({
        metainfo: { infoHash: magnet.infoHash, announce },
        peerId,
        port,
        ...(o.announceHost !== undefined ? { host: o.announceHost } : {}),
        stats: () => stats(),
        peerFeed: { peersFound: (_hex, peers) => feed(peers) },
        onWarning: o.onTrackerWarning,
        onAnnounce: o.onAnnounce,
      })
    : undefined;

  const started = performance.now();
  /** Why we stopped the fetch ourselves. */
  let abort: string | undefined;
  const stopFetch = (reason: string): void => {
    abort ??= reason;
    void fetcher.stop();
  };
  const unsignal = onStopSignal(() => stopFetch('interrupted'));
  const timer = setInterval(() => {
    if (fetcher.hasPeerProspects()) return;
    // As `download` does: with trackers, ask them again and wait; with
    // only given peers there is nobody else.
    if (tracker) tracker.client.requestPeers(magnet.infoHashHex);
    else stopFetch(`no peer could give the metadata (${givenPeers.map(formatPeer).join(', ')})`);
  }, 1000);
  let bytes: Uint8Array;
  try {
    fetcher.addPeers(givenPeers);
    bytes = await fetcher.result;
  } catch (e) {
    await tracker?.stop();
    if (e instanceof MetadataFetchError) throw new CliError(e.code === 'METADATA_STOPPED' ? (abort ?? 'interrupted') : e.message);
    throw e;
  } finally {
    clearInterval(timer);
    unsignal();
  }
  // Peers the trackers return from now on wait for the torrent.
  feed = (peers) => void pending.push(...peers);
  await fetcher.stop();

  let meta: Metainfo;
  try {
    meta = parseInfoDictionary(bytes, { announce });
  } catch (e) {
    await tracker?.stop();
    if (e instanceof ProtocolError) throw new CliError(`the metadata of ${magnet.infoHashHex} is not a usable torrent: ${e.message}`);
    throw e;
  }
  return {
    magnet,
    meta,
    peerId,
    listen: { host: listenHost, port },
    peers: dedupe([...givenPeers, ...fetcher.peersWithMetadata()]),
    tracker: tracker && {
      tracker,
      attach(torrent) {
        stats = () => torrent.transferTotals();
        feed = (peers) => torrent.addPeers(peers);
        if (pending.length > 0) torrent.addPeers(pending);
        pending = [];
      },
    },
    stats: fetcher.stats(),
    seconds: (performance.now() - started) / 1000,
  };
}

function formatPeer(p: PeerAddress): string {
  return p.host.includes(':') ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`;
}

function dedupe(peers: PeerAddress[]): PeerAddress[] {
  const seen = new Set<string>();
  return peers.filter((p) => {
    const key = formatPeer(p);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
