import { RequestStrategy, type NatsConnection, type Subscription } from 'nats';
import { WORKER_PEERS } from './subjects.js';

/**
 * The peers connected to a torrent, gathered from every peer-worker that
 * runs it: the control APIs' per-peer lists (Transmission's `peers`,
 * qBittorrent's sync/torrentPeers).
 *
 * Connections are each worker's own and change every second, so they are
 * asked for when a client wants them rather than published: a request on
 * `seedbox.worker.peers` (the body: the hex info hash) reaches every
 * worker; those running the torrent answer with their sessions, the others
 * stay silent. The asker knows from the figures how many workers run it,
 * takes that many answers, and waits no longer than a short deadline for
 * a worker that is slow or gone, so a list is at worst a little short,
 * never late.
 */

export interface PeerInfo {
  /** The connection's remote address and port (an incoming peer's is its outgoing port). */
  host: string;
  port: number;
  /** The client as it names itself (BEP 10 `v`), else as its peer id says; '' when neither says. */
  client: string;
  /** What the peer id alone says (BEP 20); '' when it follows no convention. */
  peerIdClient: string;
  /** It connected to us. */
  incoming: boolean;
  /** Choke and interest both ways (BEP 3): we choke it, we want its pieces, it chokes us, it wants ours. */
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  /** It holds our optimistic unchoke. */
  optimistic: boolean;
  /** It unchoked us but sent nothing for a while (the choker's snub rule). */
  snubbed: boolean;
  /** Its share of the torrent's pieces, 0 to 1. */
  progress: number;
  /** Of the pieces we lack, the share it has, 0 to 1 (qBittorrent's "relevance"). */
  relevance: number;
  /** Block bytes per second over the last tick, and in total over the connection. */
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
  /** How the connection is hidden: after the encrypted handshake (MSE), with plaintext or RC4 chosen; absent: a plain connection. */
  encryption?: 'handshake' | 'rc4' | undefined;
  /** The worker holding the connection, in a list gathered from the fleet. */
  workerId?: string | undefined;
}

/** Peers taken from one answer at most; a worker runs at most a few hundred per torrent. */
export const MAX_PEERS_PER_ANSWER = 2000;

export function encodePeerAnswer(workerId: string, peers: readonly PeerInfo[]): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: 1, worker: workerId, peers: peers.slice(0, MAX_PEERS_PER_ANSWER) }));
}

/**
 * One worker's answer, peer by peer: an entry that does not fit is left
 * out (a list short by one beats no list); bytes that are not a version-1
 * answer read as none. Every peer is tagged with the answering worker.
 */
export function decodePeerAnswer(bytes: Uint8Array): PeerInfo[] {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return [];
  }
  if (!isObject(v) || v.v !== 1 || !Array.isArray(v.peers)) return [];
  const worker = typeof v.worker === 'string' ? v.worker.slice(0, 256) : undefined;
  const out: PeerInfo[] = [];
  for (const raw of v.peers.slice(0, MAX_PEERS_PER_ANSWER)) {
    const p = readPeer(raw);
    if (p) out.push({ ...p, workerId: worker });
  }
  return out;
}

function readPeer(r: unknown): PeerInfo | undefined {
  if (!isObject(r)) return undefined;
  const { host, port } = r;
  if (typeof host !== 'string' || host === '' || host.length > 255) return undefined;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  const flags = ['incoming', 'amChoking', 'amInterested', 'peerChoking', 'peerInterested', 'optimistic', 'snubbed'] as const;
  if (flags.some((f) => typeof r[f] !== 'boolean')) return undefined;
  return {
    host,
    port,
    client: name(r.client),
    peerIdClient: name(r.peerIdClient),
    incoming: r.incoming as boolean,
    amChoking: r.amChoking as boolean,
    amInterested: r.amInterested as boolean,
    peerChoking: r.peerChoking as boolean,
    peerInterested: r.peerInterested as boolean,
    optimistic: r.optimistic as boolean,
    snubbed: r.snubbed as boolean,
    progress: share(r.progress),
    relevance: share(r.relevance),
    downloadRate: amount(r.downloadRate),
    uploadRate: amount(r.uploadRate),
    downloaded: amount(r.downloaded),
    uploaded: amount(r.uploaded),
  };
}

/**
 * Answers the peer requests for this worker: `peersOf` gives the
 * sessions of a torrent it runs, undefined for one it does not (then it
 * stays silent, and the asker does not count on it).
 */
export function servePeerLists(nc: NatsConnection, workerId: string, peersOf: (infoHashHex: string) => PeerInfo[] | undefined): Subscription {
  return nc.subscribe(WORKER_PEERS, {
    callback: (_err, msg) => {
      const hex = new TextDecoder().decode(msg.data).trim().toLowerCase();
      if (!HEX40.test(hex)) return;
      const peers = peersOf(hex);
      if (peers === undefined) return;
      try {
        msg.respond(encodePeerAnswer(workerId, peers));
      } catch {
        // The connection closed under us: the asker's deadline covers it.
      }
    },
  });
}

/**
 * The peers of a torrent from the `expected` workers that run it, or as
 * many as answered within `timeoutMs`. No worker runs it: none, at once.
 */
export async function gatherPeers(nc: NatsConnection, infoHashHex: string, expected: number, timeoutMs = 1000): Promise<PeerInfo[]> {
  if (expected <= 0) return [];
  const out: PeerInfo[] = [];
  let replies: AsyncIterable<{ data: Uint8Array }>;
  try {
    replies = await nc.requestMany(WORKER_PEERS, new TextEncoder().encode(infoHashHex), { strategy: RequestStrategy.Count, maxMessages: expected, maxWait: timeoutMs });
  } catch {
    // No responders (the workers just stopped it): nobody is connected.
    return out;
  }
  try {
    for await (const m of replies) out.push(...decodePeerAnswer(m.data));
  } catch {
    // A timeout or no responders ends the iteration as an error; what came before stands.
  }
  return out;
}

const HEX40 = /^[0-9a-f]{40}$/;
const MAX_CLIENT_NAME = 128;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function name(v: unknown): string {
  return typeof v === 'string' ? v.slice(0, MAX_CLIENT_NAME) : '';
}

function share(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
}

function amount(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0;
}
