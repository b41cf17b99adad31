import { describe, expect, it } from 'vitest';
import { encodeBencode } from '../src/bencode.js';
import { ProtocolError } from '../src/errors.js';
import { formatIpv6, normalizeHost, parseIpv6 } from '../src/address.js';
import { TrackerError } from '../src/tracker-error.js';
import { buildHttpAnnounceUrl, parseHttpAnnounceResponse, percentEncodeBytes } from '../src/tracker-http.js';
import {
  UDP_PROTOCOL_ID,
  decodeUdpAnnounceResponse,
  decodeUdpConnectResponse,
  decodeUdpErrorResponse,
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  udpUrlData,
} from '../src/tracker-udp.js';
import { decodeCompactPeers, trackerUrlKind, type AnnounceParams } from '../src/tracker.js';

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => i * 13); // has bytes that must be escaped
const peerId = Buffer.from('-SB0100-abcdefghijkl', 'latin1');

const params = (over: Partial<AnnounceParams> = {}): AnnounceParams => ({
  infoHash,
  peerId,
  port: 6881,
  uploaded: 10,
  downloaded: 20,
  left: 30,
  event: 'started',
  ...over,
});

const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof TrackerError) return e.code;
    throw e;
  }
  return 'no error';
};

/** Byte-wise %XX decoding, as a tracker does (decodeURIComponent would insist on UTF-8). */
const percentDecode = (s: string): Buffer => {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '%') {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
};

const body = (o: Record<string, unknown>): Uint8Array => encodeBencode(o as never);

describe('HTTP announce URL', () => {
  it('percent-encodes info_hash and peer_id as raw bytes and sends every BEP 3 key', () => {
    const url = buildHttpAnnounceUrl('http://t.example:8080/announce', params({ numWant: 50, key: 0xbeef, trackerId: Buffer.from('x y') }));
    const [base, query] = url.split('?') as [string, string];
    expect(base).toBe('http://t.example:8080/announce');
    const pairs = query.split('&');
    expect(pairs[0]).toBe(`info_hash=${percentEncodeBytes(infoHash)}`);
    expect(pairs).toContain('peer_id=-SB0100-abcdefghijkl');
    expect(pairs).toEqual(
      expect.arrayContaining(['port=6881', 'uploaded=10', 'downloaded=20', 'left=30', 'compact=1', 'event=started', 'numwant=50', 'key=0000beef', 'trackerid=x%20y']),
    );
    // The bytes survive a round trip through a standard decoder (byte for byte, not UTF-8).
    const raw = pairs[0]!.slice('info_hash='.length);
    expect(percentDecode(raw)).toEqual(Buffer.from(infoHash));
  });

  it('omits event for a regular announce and ip when not given', () => {
    const url = buildHttpAnnounceUrl('http://t/a', params({ event: 'none' }));
    expect(url).not.toMatch(/[?&]event=/);
    expect(url).not.toMatch(/[?&]ip=/);
  });

  it('keeps the announce URL query (passkeys) but replaces keys we set, and drops the fragment', () => {
    const url = buildHttpAnnounceUrl('https://t/announce.php?passkey=ab%2Fc&port=1&x#frag', params());
    expect(url.startsWith('https://t/announce.php?passkey=ab%2Fc&x&info_hash=')).toBe(true);
    expect(url.match(/[?&]port=/g)).toHaveLength(1);
    expect(url).not.toContain('#');
  });

  it('sends ip for IPv4 and ipv6 for IPv6 (BEP 7), normalised', () => {
    expect(buildHttpAnnounceUrl('http://t/a', params({ ip: '10.0.0.7' }))).toContain('&ip=10.0.0.7');
    expect(buildHttpAnnounceUrl('http://t/a', params({ ip: '2001:DB8:0:0::1' }))).toContain('&ipv6=2001%3Adb8%3A%3A1');
  });

  it('refuses what the protocol cannot carry', () => {
    expect(codeOf(() => buildHttpAnnounceUrl('udp://t:1', params()))).toBe('TRACKER_BAD_URL');
    expect(codeOf(() => buildHttpAnnounceUrl('http://t/a', params({ infoHash: new Uint8Array(19) })))).toBe('TRACKER_BAD_FIELD');
    expect(codeOf(() => buildHttpAnnounceUrl('http://t/a', params({ port: 0 })))).toBe('TRACKER_BAD_FIELD');
    expect(codeOf(() => buildHttpAnnounceUrl('http://t/a', params({ left: -1 })))).toBe('TRACKER_BAD_FIELD');
    expect(codeOf(() => buildHttpAnnounceUrl('http://t/a', params({ ip: 'not an ip!' })))).toBe('TRACKER_BAD_FIELD');
  });

  it('classifies announce URLs', () => {
    expect(trackerUrlKind('http://t/announce')).toBe('http');
    expect(trackerUrlKind('https://t/announce')).toBe('http');
    expect(trackerUrlKind('udp://t:6969/announce')).toBe('udp');
    expect(trackerUrlKind('udp://t/announce')).toBeUndefined(); // no port: nothing to send to
    expect(trackerUrlKind('wss://t/announce')).toBeUndefined();
    expect(trackerUrlKind('::garbage')).toBeUndefined();
  });
});

describe('HTTP announce response', () => {
  it('reads compact peers, peers6 and every optional key', () => {
    const peers = Buffer.from([10, 0, 0, 1, 0x1a, 0xe1, 127, 0, 0, 1, 0, 80]);
    const v6 = Buffer.alloc(18);
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[15] = 1;
    v6.writeUInt16BE(6881, 16);
    const r = parseHttpAnnounceResponse(
      body({
        interval: 1800,
        'min interval': 900,
        'tracker id': 'tid',
        complete: 3,
        incomplete: 4,
        downloaded: 12,
        'warning message': 'slow down\n',
        'external ip': Buffer.from([1, 2, 3, 4]),
        peers,
        peers6: v6,
      }),
    );
    expect(r.interval).toBe(1800);
    expect(r.minInterval).toBe(900);
    expect(Buffer.from(r.trackerId!).toString()).toBe('tid');
    expect(r.complete).toBe(3);
    expect(r.incomplete).toBe(4);
    expect(r.downloaded).toBe(12);
    expect(r.warning).toBe('slow down?'); // control characters never reach our logs
    expect(r.externalIp).toBe('1.2.3.4');
    expect(r.peers).toEqual([
      { host: '10.0.0.1', port: 6881 },
      { host: '127.0.0.1', port: 80 },
      { host: '2001::1', port: 6881 },
    ]);
    expect(r.invalidPeers).toBe(0);
  });

  it('reads non-compact peer dictionaries and drops unusable entries', () => {
    const id = Buffer.alloc(20, 0x41);
    const r = parseHttpAnnounceResponse(
      body({
        interval: 60,
        peers: [
          { ip: '10.1.2.3', port: 51413, 'peer id': id },
          { ip: '::FFFF:10.9.9.9', port: 1 },
          { ip: 'Peer.Example.org', port: 2 },
          { ip: '10.1.2.3', port: 0 },
          { ip: '10.1.2.3', port: 70000 },
          { ip: 'bad host!', port: 3 },
          { port: 4 },
          'not a dict',
        ],
      }),
    );
    expect(r.peers).toEqual([
      { host: '10.1.2.3', port: 51413, peerId: Uint8Array.from(id) },
      { host: '10.9.9.9', port: 1 },
      { host: 'peer.example.org', port: 2 },
    ]);
    expect(r.invalidPeers).toBe(5);
  });

  it('drops compact entries with port 0 or address 0.0.0.0', () => {
    const r = parseHttpAnnounceResponse(body({ interval: 1, peers: Buffer.from([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 9]) }));
    expect(r.peers).toEqual([{ host: '1.1.1.1', port: 9 }]);
    expect(r.invalidPeers).toBe(2);
  });

  it('turns failure reason into TRACKER_FAILURE carrying the text and BEP 31 retry in', () => {
    try {
      parseHttpAnnounceResponse(body({ 'failure reason': 'unregistered torrent', 'retry in': 'never' }));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TrackerError);
      expect(e).toBeInstanceOf(ProtocolError);
      const err = e as TrackerError;
      expect(err.code).toBe('TRACKER_FAILURE');
      expect(err.failureReason).toBe('unregistered torrent');
      expect(err.retryIn).toBe('never');
      expect(err.message).toContain('unregistered torrent');
    }
  });

  it('refuses replies that break BEP 3 with a code naming the rule', () => {
    const cases: [Uint8Array, string][] = [
      [Buffer.from('<html>502 Bad Gateway</html>'), 'TRACKER_BAD_RESPONSE'],
      [Buffer.from(''), 'TRACKER_BAD_RESPONSE'],
      [body({ interval: 5, peers: '' }).subarray(0, 10), 'TRACKER_BAD_RESPONSE'],
      [Buffer.from('li1ee'), 'TRACKER_BAD_RESPONSE'],
      [body({ peers: '' }), 'TRACKER_BAD_RESPONSE'],
      [body({ interval: -1, peers: '' }), 'TRACKER_BAD_RESPONSE'],
      [body({ interval: 'soon', peers: '' }), 'TRACKER_BAD_RESPONSE'],
      [body({ interval: 5 }), 'TRACKER_BAD_RESPONSE'],
      [body({ interval: 5, 'min interval': 'x', peers: '' }), 'TRACKER_BAD_RESPONSE'],
      [body({ interval: 5, 'failure reason': 7 }), 'TRACKER_BAD_RESPONSE'],
      [body({ interval: 5, peers: Buffer.alloc(7) }), 'TRACKER_BAD_PEERS'],
      [body({ interval: 5, peers: 7 }), 'TRACKER_BAD_PEERS'],
      [body({ interval: 5, peers6: Buffer.alloc(17) }), 'TRACKER_BAD_PEERS'],
      [body({ interval: 5, peers6: [] }), 'TRACKER_BAD_PEERS'],
      [Buffer.from('d'.repeat(10) + 'e'.repeat(10)), 'TRACKER_BAD_RESPONSE'],
    ];
    for (const [b, code] of cases) expect([Buffer.from(b).toString('latin1'), codeOf(() => parseHttpAnnounceResponse(b))]).toEqual([Buffer.from(b).toString('latin1'), code]);
  });

  it('refuses a body over the cap before decoding it', () => {
    expect(codeOf(() => parseHttpAnnounceResponse(new Uint8Array(101), { maxBytes: 100 }))).toBe('TRACKER_TOO_LARGE');
  });
});

describe('addresses', () => {
  it('formats IPv6 as RFC 5952 and IPv4-mapped as IPv4', () => {
    expect(formatIpv6(parseIpv6('2001:0db8:0000:0000:0001:0000:0000:0001')!)).toBe('2001:db8::1:0:0:1');
    expect(formatIpv6(parseIpv6('::')!)).toBe('::');
    expect(formatIpv6(parseIpv6('::1')!)).toBe('::1');
    expect(formatIpv6(parseIpv6('1:0:1:1:1:1:1:1')!)).toBe('1:0:1:1:1:1:1:1');
    expect(formatIpv6(parseIpv6('::ffff:1.2.3.4')!)).toBe('1.2.3.4');
    expect(parseIpv6('1::2::3')).toBeUndefined();
    expect(parseIpv6('1:2:3:4:5:6:7:8:9')).toBeUndefined();
    expect(parseIpv6('fe80::1%eth0')).toBeUndefined();
  });

  it('normalises hosts so addresses compare as strings', () => {
    expect(normalizeHost('[::FFFF:7f00:1]')).toBe('127.0.0.1');
    expect(normalizeHost('010.0.0.1')).toBe(undefined); // octal-looking: refused, not guessed
    expect(normalizeHost('Tracker.Example')).toBe('tracker.example');
    expect(normalizeHost('')).toBeUndefined();
  });

  it('decodes compact peer strings of either family', () => {
    expect(decodeCompactPeers(Buffer.from([1, 2, 3, 4, 0, 1]), 4).peers).toEqual([{ host: '1.2.3.4', port: 1 }]);
    expect(codeOf(() => decodeCompactPeers(new Uint8Array(6), 6))).toBe('TRACKER_BAD_PEERS');
  });
});

describe('UDP (BEP 15)', () => {
  it('encodes a connect request', () => {
    const b = Buffer.from(encodeUdpConnectRequest(0xdeadbeef));
    expect(b.length).toBe(16);
    expect(b.readBigUInt64BE(0)).toBe(UDP_PROTOCOL_ID);
    expect(b.readUInt32BE(8)).toBe(0);
    expect(b.readUInt32BE(12)).toBe(0xdeadbeef);
  });

  it('decodes a connect response, checking transaction id, action and exact length', () => {
    const ok = Buffer.alloc(16);
    ok.writeUInt32BE(0, 0);
    ok.writeUInt32BE(7, 4);
    ok.writeBigUInt64BE(0x1122334455667788n, 8);
    expect(decodeUdpConnectResponse(ok, 7).connectionId).toBe(0x1122334455667788n);
    expect(codeOf(() => decodeUdpConnectResponse(ok, 8))).toBe('TRACKER_TRANSACTION_MISMATCH');
    expect(codeOf(() => decodeUdpConnectResponse(ok.subarray(0, 15), 7))).toBe('TRACKER_BAD_LENGTH');
    expect(codeOf(() => decodeUdpConnectResponse(Buffer.concat([ok, Buffer.alloc(1)]), 7))).toBe('TRACKER_BAD_LENGTH');
    expect(codeOf(() => decodeUdpConnectResponse(ok.subarray(0, 7), 7))).toBe('TRACKER_BAD_LENGTH');
    const wrongAction = Buffer.from(ok);
    wrongAction.writeUInt32BE(1, 0);
    expect(codeOf(() => decodeUdpConnectResponse(wrongAction, 7))).toBe('TRACKER_BAD_ACTION');
  });

  it('encodes an announce request with every field at its offset', () => {
    const b = Buffer.from(
      encodeUdpAnnounceRequest({
        connectionId: 0x0102030405060708n,
        transactionId: 99,
        params: params({ event: 'stopped', key: 0xabcdef01, numWant: 30, ip: '10.2.3.4', uploaded: 2 ** 40 }),
      }),
    );
    expect(b.length).toBe(98);
    expect(b.readBigUInt64BE(0)).toBe(0x0102030405060708n);
    expect(b.readUInt32BE(8)).toBe(1);
    expect(b.readUInt32BE(12)).toBe(99);
    expect(b.subarray(16, 36)).toEqual(Buffer.from(infoHash));
    expect(b.subarray(36, 56)).toEqual(Buffer.from(peerId));
    expect(b.readBigUInt64BE(56)).toBe(20n);
    expect(b.readBigUInt64BE(64)).toBe(30n);
    expect(b.readBigUInt64BE(72)).toBe(2n ** 40n);
    expect(b.readUInt32BE(80)).toBe(3);
    expect([...b.subarray(84, 88)]).toEqual([10, 2, 3, 4]);
    expect(b.readUInt32BE(88)).toBe(0xabcdef01);
    expect(b.readInt32BE(92)).toBe(30);
    expect(b.readUInt16BE(96)).toBe(6881);
  });

  it('uses the BEP 15 event codes, num_want -1 by default and ip 0 without an IPv4 host', () => {
    const events = { none: 0, completed: 1, started: 2, stopped: 3 } as const;
    for (const [event, code] of Object.entries(events)) {
      const b = Buffer.from(encodeUdpAnnounceRequest({ connectionId: 1n, transactionId: 1, params: params({ event: event as AnnounceParams['event'] }) }));
      expect(b.readUInt32BE(80)).toBe(code);
      expect(b.readInt32BE(92)).toBe(-1);
      expect(b.readUInt32BE(84)).toBe(0);
    }
  });

  it('appends BEP 41 URL data in 255-byte options', () => {
    const data = Buffer.from('/a'.repeat(200)); // 400 bytes: two options
    const b = Buffer.from(encodeUdpAnnounceRequest({ connectionId: 1n, transactionId: 1, params: params(), urlData: data }));
    expect(b.length).toBe(98 + 2 + 255 + 2 + 145 + 1);
    expect(b[98]).toBe(2);
    expect(b[99]).toBe(255);
    expect(b[98 + 2 + 255]).toBe(2);
    expect(b[98 + 2 + 255 + 1]).toBe(145);
    expect(b[b.length - 1]).toBe(0);
    expect(udpUrlData('udp://t:1/announce')).toBeUndefined();
    expect(Buffer.from(udpUrlData('udp://t:1/announce?passkey=x')!).toString()).toBe('/announce?passkey=x');
  });

  const announceReply = (tx: number, peerBytes: Buffer, action = 1): Buffer => {
    const b = Buffer.alloc(20 + peerBytes.length);
    b.writeUInt32BE(action, 0);
    b.writeUInt32BE(tx, 4);
    b.writeUInt32BE(1800, 8);
    b.writeUInt32BE(5, 12);
    b.writeUInt32BE(6, 16);
    peerBytes.copy(b, 20);
    return b;
  };

  it('decodes an announce response', () => {
    const r = decodeUdpAnnounceResponse(announceReply(3, Buffer.from([10, 0, 0, 2, 0x1a, 0xe1])), 3);
    expect(r).toEqual({ interval: 1800, leechers: 5, seeders: 6, peers: [{ host: '10.0.0.2', port: 6881 }], invalidPeers: 0 });
    const v6 = Buffer.alloc(18);
    v6[15] = 1;
    v6.writeUInt16BE(1, 16);
    expect(decodeUdpAnnounceResponse(announceReply(3, v6), 3, 6).peers).toEqual([{ host: '::1', port: 1 }]);
  });

  it('refuses truncated and wrong announce responses', () => {
    expect(codeOf(() => decodeUdpAnnounceResponse(announceReply(3, Buffer.alloc(0)).subarray(0, 19), 3))).toBe('TRACKER_BAD_LENGTH');
    expect(codeOf(() => decodeUdpAnnounceResponse(announceReply(3, Buffer.alloc(5)), 3))).toBe('TRACKER_BAD_LENGTH');
    expect(codeOf(() => decodeUdpAnnounceResponse(announceReply(3, Buffer.alloc(6)), 3, 6))).toBe('TRACKER_BAD_LENGTH');
    expect(codeOf(() => decodeUdpAnnounceResponse(announceReply(3, Buffer.alloc(0)), 4))).toBe('TRACKER_TRANSACTION_MISMATCH');
    expect(codeOf(() => decodeUdpAnnounceResponse(announceReply(3, Buffer.alloc(0), 0), 3))).toBe('TRACKER_BAD_ACTION');
  });

  it('turns an error packet with our transaction id into TRACKER_FAILURE', () => {
    const err = Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 9]), Buffer.from('torrent not registered')]);
    expect(decodeUdpErrorResponse(err, 9).message).toBe('torrent not registered');
    for (const decode of [() => decodeUdpConnectResponse(err, 9), () => decodeUdpAnnounceResponse(err, 9)]) {
      try {
        decode();
        expect.unreachable();
      } catch (e) {
        expect((e as TrackerError).code).toBe('TRACKER_FAILURE');
        expect((e as TrackerError).failureReason).toBe('torrent not registered');
      }
    }
    expect(codeOf(() => decodeUdpErrorResponse(err, 8))).toBe('TRACKER_TRANSACTION_MISMATCH');
    expect(decodeUdpErrorResponse(err.subarray(0, 8)).message).toBe('(no message)');
  });
});
