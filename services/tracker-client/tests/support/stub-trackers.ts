import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeBencode } from '@seedbox/protocol';

/**
 * Small trackers of our own for the tests: an HTTP server and a UDP socket
 * on 127.0.0.1 whose every reply the test chooses, so each way a tracker can
 * misbehave can be produced on demand.
 */

/** Byte-wise %XX decoding, as a tracker does: info_hash and peer_id are raw bytes, not UTF-8. */
export function percentDecode(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
}

/** The raw query of a request: name -> raw (still percent-encoded) value. */
export function rawQuery(url: string): Map<string, string> {
  const q = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  return new Map(q.split('&').filter(Boolean).map((p) => [p.split('=')[0]!, p.slice(p.indexOf('=') + 1)] as [string, string]));
}

export interface HttpStub {
  url(path?: string): string;
  requests: string[];
  /** TCP connections accepted so far, and those still open. */
  connections: number;
  open: number;
  /** Requests being answered right now, and the most there ever were at once. */
  inFlight: number;
  maxInFlight: number;
  close(): Promise<void>;
}

export async function startHttpStub(handler: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<HttpStub> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    stub.inFlight++;
    stub.maxInFlight = Math.max(stub.maxInFlight, stub.inFlight);
    res.on('close', () => stub.inFlight--);
    handler(req, res);
  });
  server.on('connection', (socket) => {
    stub.connections++;
    stub.open++;
    socket.on('close', () => stub.open--);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const stub: HttpStub = {
    url: (path = '/announce') => `http://127.0.0.1:${port}${path}`,
    requests,
    connections: 0,
    open: 0,
    inFlight: 0,
    maxInFlight: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return stub;
}

/** A well-behaved HTTP tracker that always hands out the same peers. */
export function goodHttpReply(peers: { host: string; port: number }[], extra: Record<string, unknown> = {}): Uint8Array {
  const compact = Buffer.concat(
    peers.map((p) => Buffer.from([...p.host.split('.').map(Number), p.port >> 8, p.port & 0xff])),
  );
  return encodeBencode({ interval: 1800, complete: 1, incomplete: 1, peers: compact, ...extra } as never);
}

export type UdpBehaviour =
  | 'good'
  /** Never answers. */
  | 'silent'
  /** Answers connect with 12 bytes (our transaction id, but cut short). */
  | 'truncated-connect'
  /** Answers the announce with a header and 5 stray peer bytes. */
  | 'truncated-announce'
  /** Answers with a 5-byte packet, too short to carry any transaction id. */
  | 'short'
  /** Answers with a transaction id one off ours. */
  | 'wrong-transaction'
  /** Answers the announce with an error packet. */
  | 'error';

export interface UdpStub {
  url: string;
  port: number;
  /** Packets received, by action (0 connect, 1 announce), with their arrival time. */
  received: { action: number; at: number; packet: Buffer }[];
  connects(): number;
  behaviour: UdpBehaviour;
  /** Drop (do not answer) this many of the next packets, whatever the behaviour. */
  dropNext: number;
  /** Drop (do not answer) the packets this says so for. */
  dropIf: (action: number) => boolean;
  /** A scrape's answer for one hash (hex): seeders, completed, leechers. */
  scrapeCounts: (infoHashHex: string) => [number, number, number];
  close(): Promise<void>;
}

export async function startUdpStub(
  behaviour: UdpBehaviour,
  peers: { host: string; port: number }[] = [],
  interval = 1800,
): Promise<UdpStub> {
  const socket = dgram.createSocket('udp4');
  let nextConnId = 0x1000n;
  const stub: UdpStub = {
    url: '',
    port: 0,
    received: [],
    connects: () => stub.received.filter((r) => r.action === 0).length,
    behaviour,
    dropNext: 0,
    dropIf: () => false,
    scrapeCounts: () => [3, 7, 2],
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (msg, rinfo) => {
    if (msg.length < 16) return;
    const action = msg.readUInt32BE(8);
    const tx = msg.readUInt32BE(12);
    stub.received.push({ action, at: Date.now(), packet: Buffer.from(msg) });
    if (stub.dropNext > 0) {
      stub.dropNext--;
      return;
    }
    if (stub.dropIf(action)) return;
    const send = (b: Buffer): void => socket.send(b, rinfo.port, rinfo.address);
    const header = (act: number, t: number, size: number): Buffer => {
      const b = Buffer.alloc(size);
      b.writeUInt32BE(act, 0);
      b.writeUInt32BE(t, 4);
      return b;
    };
    const b = stub.behaviour;
    if (b === 'silent') return;
    if (b === 'short') return send(Buffer.from([0, 0, 0, 0, 1]));
    if (b === 'wrong-transaction') return send(header(action, (tx + 1) >>> 0, action === 0 ? 16 : 20));
    if (action === 0) {
      if (b === 'truncated-connect') return send(header(0, tx, 12));
      const r = header(0, tx, 16);
      r.writeBigUInt64BE(nextConnId++, 8);
      return send(r);
    }
    if (action === 2) {
      if (b === 'error') return send(Buffer.concat([header(3, tx, 8), Buffer.from('scrape not allowed')]));
      const n = (msg.length - 16) / 20;
      const r = header(2, tx, 8 + 12 * n);
      for (let i = 0; i < n; i++) {
        const counts = stub.scrapeCounts(msg.subarray(16 + 20 * i, 36 + 20 * i).toString('hex'));
        counts.forEach((c, j) => r.writeUInt32BE(c, 8 + 12 * i + 4 * j));
      }
      return send(r);
    }
    if (action === 1) {
      if (b === 'error') return send(Buffer.concat([header(3, tx, 8), Buffer.from('info_hash not in whitelist')]));
      if (b === 'truncated-announce') return send(Buffer.concat([header(1, tx, 20), Buffer.alloc(5, 1)]));
      const r = header(1, tx, 20 + 6 * peers.length);
      r.writeUInt32BE(interval, 8);
      r.writeUInt32BE(1, 12);
      r.writeUInt32BE(1, 16);
      peers.forEach((p, i) => {
        Buffer.from(p.host.split('.').map(Number)).copy(r, 20 + 6 * i);
        r.writeUInt16BE(p.port, 24 + 6 * i);
      });
      return send(r);
    }
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  stub.port = socket.address().port;
  stub.url = `udp://127.0.0.1:${stub.port}/announce`;
  return stub;
}

/** The raw info_hash values of a scrape request (BEP 48: one per torrent), as bytes. */
export function scrapedHashes(url: string): Buffer[] {
  const q = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  return q.split('&').filter((p) => p.startsWith('info_hash=')).map((p) => percentDecode(p.slice('info_hash='.length)));
}

/**
 * A BEP 48 scrape reply, written byte by byte: its `files` keys are raw
 * 20-byte hashes, which a bencode encoder taking JS strings would turn
 * into UTF-8.
 */
export function scrapeReply(entries: [Uint8Array, { complete: number; incomplete: number; downloaded: number }][]): Buffer {
  const sorted = [...entries].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const parts: Buffer[] = [Buffer.from('d5:filesd')];
  for (const [hash, c] of sorted) {
    parts.push(Buffer.from('20:'), Buffer.from(hash), Buffer.from(`d8:completei${c.complete}e10:downloadedi${c.downloaded}e10:incompletei${c.incomplete}ee`));
  }
  parts.push(Buffer.from('ee'));
  return Buffer.concat(parts);
}
