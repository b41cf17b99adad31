import { formatPeerAddress, parseHostPort, parseInfoDictionary, ProtocolError, type Magnet, type Metainfo, type PeerAddress } from '@seedbox/protocol';
import type { EncryptionPolicy } from './encryption/encryption-policy.js';
import { LEFT_WHILE_FETCHING_METADATA, MetadataFetcher, MetadataFetchError, type MetadataFetchStats } from './metadata-fetcher.js';
import type { PeerDiscovery, SwarmHandle, SwarmInfo, SwarmMember, TransferTotals } from './peer-discovery.js';

/**
 * A magnet link to a torrent: the one resolver that `seedbox download`
 * and the fleet's torrent owners (MagnetOwner, in `seedbox serve` too)
 * use. It fetches the info dictionary (BEP 9) from the link's peers
 * (`x.pe`), the caller's, and whoever discovery finds, under our own peer
 * id and listening port, and parses it with the link's trackers.
 *
 * Discovery is joined once: when the caller keeps the swarm (a download
 * that follows), trackers see one client from the first announce to the
 * last, the figures and found peers switching to the torrent on `attach`.
 * When peers run out, discovery is asked again; with no discovery there is
 * nobody else to ask, and the resolve fails.
 */

export interface ResolveOptions {
  magnet: Magnet;
  peerId: Uint8Array;
  /** Where we listen (the engine's listener routes incoming peers to the fetcher). */
  listenPort: number | undefined;
  discovery: PeerDiscovery | undefined;
  /** More peers to try, beside the link's x.pe. */
  peers?: readonly PeerAddress[] | undefined;
  timeoutMs: number;
  /** Keep the swarm joined after the metadata is in, for the download to take over. */
  keepSwarm?: boolean;
  /** Gives the fetch up: the result rejects with MetadataFetchError 'METADATA_STOPPED' and the swarm is left. */
  signal?: AbortSignal | undefined;
  /** The fetcher is about to start / has ended: for routing incoming connections to it. */
  onFetcher?: (fetcher: MetadataFetcher | undefined) => void;
  /** How the fetch dials peers (the engine's policy). Default: plain. */
  encryption?: (() => EncryptionPolicy) | undefined;
  tickMs?: number;
}

/** A joined swarm whose member can be switched from the fetch to the torrent. */
export interface SwarmHandover {
  handle: SwarmHandle;
  /** From now on announce `member`'s figures and give it the peers found. */
  attach(member: SwarmMember): void;
}

export interface ResolvedMagnet {
  meta: Metainfo;
  /** x.pe, the caller's peers, and those that had the metadata: good first peers for the download. */
  peers: PeerAddress[];
  stats: MetadataFetchStats;
  seconds: number;
  /** With keepSwarm: the swarm, still joined. */
  swarm: SwarmHandover | undefined;
}

export function swarmOfMagnet(magnet: Magnet): SwarmInfo {
  return { infoHash: magnet.infoHash, infoHashHex: magnet.infoHashHex, announce: magnet.trackers.map((t) => [t]), private: false, unregistered: true };
}

const FETCHING: TransferTotals = { uploaded: 0, downloaded: 0, left: LEFT_WHILE_FETCHING_METADATA, complete: false };

export async function resolveMagnet(o: ResolveOptions): Promise<ResolvedMagnet> {
  const { magnet } = o;
  const swarmInfo = swarmOfMagnet(magnet);
  const given = dedupe([...magnet.peers.flatMap((p) => parseHostPort(p) ?? []), ...(o.peers ?? [])]);
  const findable = o.discovery?.canFind(swarmInfo) ?? false;
  if (given.length === 0 && !findable) {
    throw new MetadataFetchError(
      'METADATA_NO_SOURCES',
      `nowhere to fetch the metadata of ${magnet.infoHashHex} from: ${magnet.trackers.length === 0 ? 'the magnet link has no trackers (tr)' : 'no tracker can be reached from here'} and no peers (x.pe)`,
      magnet.infoHashHex,
      emptyStats(),
    );
  }
  if (o.signal?.aborted) throw new MetadataFetchError('METADATA_STOPPED', `metadata fetch for ${magnet.infoHashHex} was stopped`, magnet.infoHashHex, emptyStats());
  const fetcher = new MetadataFetcher({
    infoHash: magnet.infoHash,
    peerId: o.peerId,
    listenPort: o.listenPort,
    timeoutMs: o.timeoutMs,
    encryption: o.encryption,
    ...(o.tickMs ? { tickMs: o.tickMs } : {}),
  });
  // Until attach(), the swarm's figures are the fetch's, and found peers go to the fetcher (or wait for the torrent).
  let member: SwarmMember = { totals: () => FETCHING, peersFound: (peers) => fetcher.addPeers(peers) };
  const waiting: PeerAddress[] = [];
  const handle = findable ? o.discovery!.join(swarmInfo, { totals: () => member.totals(), peersFound: (peers) => member.peersFound(peers) }) : undefined;
  let exhausted = false;
  const watch = setInterval(() => {
    if (fetcher.hasPeerProspects()) return;
    if (handle) handle.requestPeers();
    else {
      exhausted = true;
      void fetcher.stop();
    }
  }, o.tickMs ?? 1000);
  const started = performance.now();
  const abort = (): void => void fetcher.stop();
  o.signal?.addEventListener('abort', abort, { once: true });
  o.onFetcher?.(fetcher);
  let bytes: Uint8Array;
  try {
    await fetcher.start();
    fetcher.addPeers(given);
    bytes = await fetcher.result;
  } catch (e) {
    await handle?.leave();
    if (exhausted) {
      throw new MetadataFetchError('METADATA_NO_PEERS_LEFT', `no peer could give the metadata (${given.map((p) => formatPeerAddress(p.host, p.port)).join(', ')})`, magnet.infoHashHex, fetcher.stats());
    }
    throw e;
  } finally {
    clearInterval(watch);
    o.signal?.removeEventListener('abort', abort);
    o.onFetcher?.(undefined);
  }
  member = { totals: () => FETCHING, peersFound: (peers) => void waiting.push(...peers) };
  const stats = fetcher.stats();
  await fetcher.stop();
  let meta: Metainfo;
  try {
    meta = parseInfoDictionary(bytes, { announce: swarmInfo.announce.map((tier) => [...tier]) });
  } catch (e) {
    await handle?.leave();
    if (e instanceof ProtocolError) throw new MetadataFetchError('METADATA_UNUSABLE', `the metadata of ${magnet.infoHashHex} is not a usable torrent: ${e.message}`, magnet.infoHashHex, stats, { cause: e });
    throw e;
  }
  let swarm: SwarmHandover | undefined;
  if (handle && o.keepSwarm) {
    swarm = {
      handle,
      attach(next) {
        member = next;
        if (waiting.length > 0) next.peersFound(waiting.splice(0));
      },
    };
  } else {
    await handle?.leave();
  }
  return { meta, peers: dedupe([...given, ...fetcher.peersWithMetadata()]), stats, seconds: (performance.now() - started) / 1000, swarm };
}

function emptyStats(): MetadataFetchStats {
  return {
    peersKnown: 0,
    connected: 0,
    withMetadata: 0,
    metadataSize: undefined,
    piecesReceived: 0,
    pieceCount: undefined,
    sources: [],
    rejects: 0,
    requestTimeouts: 0,
    hashFailures: 0,
    banned: 0,
    closed: {},
  };
}

function dedupe(peers: PeerAddress[]): PeerAddress[] {
  const seen = new Set<string>();
  return peers.filter((p) => {
    const key = formatPeerAddress(p.host, p.port);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
