import { parseIpv4 } from './address.js';
import { checkAnnounceParams, checkInt, trackerText } from './tracker-checks.js';
import { TrackerError } from './tracker-error.js';
import type { ScrapeCounts } from './tracker-scrape.js';
import { decodeCompactPeers, type AnnounceEvent, type AnnounceParams, type TrackerPeer } from './tracker.js';

/**
 * The UDP tracker protocol (BEP 15), with URL data (BEP 41): connect and
 * announce packets, their replies and error packets.
 */

/** The magic constant of a connect request. */
export const UDP_PROTOCOL_ID = 0x41727101980n;

export const UdpAction = { connect: 0, announce: 1, scrape: 2, error: 3 } as const;
export type UdpActionValue = (typeof UdpAction)[keyof typeof UdpAction];

const UDP_EVENT_CODE: Record<AnnounceEvent, number> = { none: 0, completed: 1, started: 2, stopped: 3 };

export const UDP_CONNECT_REQUEST_LENGTH = 16;
export const UDP_CONNECT_RESPONSE_LENGTH = 16;
/** An announce request without BEP 41 options. */
export const UDP_ANNOUNCE_REQUEST_LENGTH = 98;
/** action, transaction id, interval, leechers, seeders; then the peers. */
export const UDP_ANNOUNCE_RESPONSE_HEADER = 20;
const UDP_HEADER = 8;

export function encodeUdpConnectRequest(transactionId: number): Uint8Array {
  checkInt('transactionId', transactionId, 0, 0xffffffff);
  const out = Buffer.alloc(UDP_CONNECT_REQUEST_LENGTH);
  out.writeBigUInt64BE(UDP_PROTOCOL_ID, 0);
  out.writeUInt32BE(UdpAction.connect, 8);
  out.writeUInt32BE(transactionId, 12);
  return out;
}

/** The first 8 bytes of every reply: what the transport routes on. */
export function readUdpHeader(buf: Uint8Array): { action: number; transactionId: number } {
  if (buf.length < UDP_HEADER) {
    throw new TrackerError('TRACKER_BAD_LENGTH', `UDP reply is ${buf.length} bytes, shorter than the 8-byte header`, {
      received: buf.length,
      expected: UDP_HEADER,
    });
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { action: view.getUint32(0), transactionId: view.getUint32(4) };
}

/**
 * The checks every reply goes through, in the order BEP 15 gives them: at
 * least the header, our transaction id, then the action. An error packet
 * (action 3) with our transaction id becomes TRACKER_FAILURE whatever we
 * asked for.
 */
function checkUdpReply(buf: Uint8Array, transactionId: number, action: UdpActionValue): DataView {
  const header = readUdpHeader(buf);
  if (header.transactionId !== transactionId) {
    throw new TrackerError(
      'TRACKER_TRANSACTION_MISMATCH',
      `UDP reply has transaction id ${header.transactionId}, but we sent ${transactionId}`,
      { received: header.transactionId, expected: transactionId },
    );
  }
  if (header.action === UdpAction.error) {
    const { message } = decodeUdpErrorResponse(buf, transactionId);
    throw new TrackerError('TRACKER_FAILURE', `tracker refused the request: ${message}`, { failureReason: message });
  }
  if (header.action !== action) {
    throw new TrackerError('TRACKER_BAD_ACTION', `UDP reply has action ${header.action}, but we asked for action ${action}`, {
      received: header.action,
      expected: action,
    });
  }
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function decodeUdpConnectResponse(buf: Uint8Array, transactionId: number): { connectionId: bigint } {
  const view = checkUdpReply(buf, transactionId, UdpAction.connect);
  if (buf.length !== UDP_CONNECT_RESPONSE_LENGTH) {
    throw new TrackerError(
      'TRACKER_BAD_LENGTH',
      `UDP connect reply is ${buf.length} bytes; BEP 15 defines exactly ${UDP_CONNECT_RESPONSE_LENGTH}`,
      { received: buf.length, expected: UDP_CONNECT_RESPONSE_LENGTH },
    );
  }
  return { connectionId: view.getBigUint64(8) };
}

export interface UdpAnnounceRequest {
  connectionId: bigint;
  transactionId: number;
  params: AnnounceParams;
  /**
   * BEP 41: the path and query of the udp:// URL (`/announce?passkey=...`),
   * sent as URLData options. Omitted when there is none to send.
   */
  urlData?: Uint8Array;
}

export function encodeUdpAnnounceRequest(req: UdpAnnounceRequest): Uint8Array {
  const p = req.params;
  checkAnnounceParams(p);
  checkInt('transactionId', req.transactionId, 0, 0xffffffff);
  if (req.connectionId < 0n || req.connectionId > 0xffffffffffffffffn) {
    throw new TrackerError('TRACKER_BAD_FIELD', 'connectionId does not fit in 64 bits');
  }
  let ip: Uint8Array | undefined;
  if (p.ip !== undefined) {
    // The packet has room for an IPv4 address only; anything else stays 0
    // (the tracker then uses the source address, BEP 15).
    ip = parseIpv4(p.ip);
  }
  const urlData = req.urlData ?? new Uint8Array(0);
  // Each option carries at most 255 bytes; longer data is split across several (BEP 41).
  const chunks = Math.ceil(urlData.length / 255);
  const optionsLength = urlData.length === 0 ? 0 : urlData.length + 2 * chunks + 1;
  const out = Buffer.alloc(UDP_ANNOUNCE_REQUEST_LENGTH + optionsLength);
  out.writeBigUInt64BE(req.connectionId, 0);
  out.writeUInt32BE(UdpAction.announce, 8);
  out.writeUInt32BE(req.transactionId, 12);
  out.set(p.infoHash, 16);
  out.set(p.peerId, 36);
  out.writeBigUInt64BE(BigInt(p.downloaded), 56);
  out.writeBigUInt64BE(BigInt(p.left), 64);
  out.writeBigUInt64BE(BigInt(p.uploaded), 72);
  out.writeUInt32BE(UDP_EVENT_CODE[p.event], 80);
  if (ip) out.set(ip, 84);
  out.writeUInt32BE(p.key ?? 0, 88);
  out.writeInt32BE(p.numWant ?? -1, 92);
  out.writeUInt16BE(p.port, 96);
  if (urlData.length > 0) {
    let off = UDP_ANNOUNCE_REQUEST_LENGTH;
    for (let i = 0; i < urlData.length; i += 255) {
      const chunk = urlData.subarray(i, i + 255);
      out[off++] = 0x2; // URLData
      out[off++] = chunk.length;
      out.set(chunk, off);
      off += chunk.length;
    }
    out[off] = 0x0; // EndOfOptions
  }
  return out;
}

export interface UdpAnnounceResponse {
  interval: number;
  leechers: number;
  seeders: number;
  peers: TrackerPeer[];
  invalidPeers: number;
}

/**
 * An announce reply: 20 header bytes, then 6-byte IPv4 peers, or 18-byte
 * IPv6 peers when the tracker was reached over IPv6 (BEP 15 "IPv6").
 */
export function decodeUdpAnnounceResponse(buf: Uint8Array, transactionId: number, family: 4 | 6 = 4): UdpAnnounceResponse {
  const view = checkUdpReply(buf, transactionId, UdpAction.announce);
  const entry = family === 4 ? 6 : 18;
  if (buf.length < UDP_ANNOUNCE_RESPONSE_HEADER || (buf.length - UDP_ANNOUNCE_RESPONSE_HEADER) % entry !== 0) {
    throw new TrackerError(
      'TRACKER_BAD_LENGTH',
      `UDP announce reply is ${buf.length} bytes; it must be ${UDP_ANNOUNCE_RESPONSE_HEADER} plus a multiple of ${entry}`,
      { received: buf.length, expected: UDP_ANNOUNCE_RESPONSE_HEADER },
    );
  }
  const { peers, invalid } = decodeCompactPeers(buf.subarray(UDP_ANNOUNCE_RESPONSE_HEADER), family, 'peer list');
  return {
    interval: view.getUint32(8),
    leechers: view.getUint32(12),
    seeders: view.getUint32(16),
    peers,
    invalidPeers: invalid,
  };
}

/**
 * Hashes in one UDP scrape at most (BEP 15: "up to about 74 torrents can
 * be scraped at once"): 16 + 74 * 20 = 1496 bytes of request, under a
 * 1500-byte MTU with room for nothing else.
 */
export const MAX_UDP_SCRAPE_HASHES = 74;
/** connection id, action, transaction id; then 20 bytes a hash. */
export const UDP_SCRAPE_REQUEST_HEADER = 16;
/** Seeders, completed, leechers: 12 bytes a torrent, after the 8-byte header. */
const UDP_SCRAPE_ENTRY = 12;

export interface UdpScrapeRequest {
  connectionId: bigint;
  transactionId: number;
  infoHashes: readonly Uint8Array[];
}

export function encodeUdpScrapeRequest(req: UdpScrapeRequest): Uint8Array {
  checkInt('transactionId', req.transactionId, 0, 0xffffffff);
  if (req.connectionId < 0n || req.connectionId > 0xffffffffffffffffn) {
    throw new TrackerError('TRACKER_BAD_FIELD', 'connectionId does not fit in 64 bits');
  }
  const n = req.infoHashes.length;
  if (n === 0 || n > MAX_UDP_SCRAPE_HASHES) {
    throw new TrackerError('TRACKER_BAD_FIELD', `a UDP scrape asks for 1 to ${MAX_UDP_SCRAPE_HASHES} torrents, not ${n}`);
  }
  const out = Buffer.alloc(UDP_SCRAPE_REQUEST_HEADER + 20 * n);
  out.writeBigUInt64BE(req.connectionId, 0);
  out.writeUInt32BE(UdpAction.scrape, 8);
  out.writeUInt32BE(req.transactionId, 12);
  req.infoHashes.forEach((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== 20) throw new TrackerError('TRACKER_BAD_FIELD', 'infoHash must be 20 bytes');
    out.set(h, UDP_SCRAPE_REQUEST_HEADER + 20 * i);
  });
  return out;
}

/**
 * A scrape reply: the 8-byte header, then seeders, completed and leechers
 * for each hash asked, in the order asked. The length must be exactly that
 * for `count` hashes: a shorter or longer reply cannot be matched to the
 * hashes, so none of it is taken.
 */
export function decodeUdpScrapeResponse(buf: Uint8Array, transactionId: number, count: number): ScrapeCounts[] {
  const view = checkUdpReply(buf, transactionId, UdpAction.scrape);
  const expected = UDP_HEADER + UDP_SCRAPE_ENTRY * count;
  if (buf.length !== expected) {
    throw new TrackerError(
      'TRACKER_BAD_LENGTH',
      `UDP scrape reply is ${buf.length} bytes; for ${count} torrents BEP 15 defines exactly ${expected}`,
      { received: buf.length, expected },
    );
  }
  const out: ScrapeCounts[] = [];
  for (let off = UDP_HEADER; off < expected; off += UDP_SCRAPE_ENTRY) {
    out.push({ complete: view.getUint32(off), downloaded: view.getUint32(off + 4), incomplete: view.getUint32(off + 8) });
  }
  return out;
}

/** An error packet: action 3, the transaction id, and a message (the rest of the packet). */
export function decodeUdpErrorResponse(buf: Uint8Array, transactionId?: number): { transactionId: number; message: string } {
  const header = readUdpHeader(buf);
  if (header.action !== UdpAction.error) {
    throw new TrackerError('TRACKER_BAD_ACTION', `UDP packet has action ${header.action}, not ${UdpAction.error} (error)`, {
      received: header.action,
      expected: UdpAction.error,
    });
  }
  if (transactionId !== undefined && header.transactionId !== transactionId) {
    throw new TrackerError(
      'TRACKER_TRANSACTION_MISMATCH',
      `UDP error has transaction id ${header.transactionId}, but we sent ${transactionId}`,
      { received: header.transactionId, expected: transactionId },
    );
  }
  const text = buf.length > UDP_HEADER ? trackerText(buf.subarray(UDP_HEADER)) : '(no message)';
  return { transactionId: header.transactionId, message: text };
}

/**
 * What an announce to a udp:// URL sends as BEP 41 URLData: its path and
 * query, unless that is empty or the bare conventional `/announce`, which
 * says nothing the tracker needs (and older trackers reject packets with
 * options).
 */
export function udpUrlData(url: string): Uint8Array | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const data = `${u.pathname}${u.search}`;
  if (data === '' || data === '/' || data === '/announce') return undefined;
  return Buffer.from(data, 'latin1');
}
