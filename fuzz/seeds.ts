import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  encodeBencode,
  encodeExtendedHandshake,
  encodeHandshake,
  encodeMessage,
  encodePex,
  encodeUtMetadata,
  metadataPiece,
  metadataPieceCount,
  parseMetainfo,
  PexFlag,
  UDP_PROTOCOL_ID,
  type Message,
} from '@seedbox/protocol';
import { concat, latin1 } from './target.js';

/**
 * The messages the protocol targets start from. Two sources:
 *
 * - fuzz/seeds/<kind>/*.bin, bytes captured from real clients by
 *   fuzz/capture/capture-seeds.mjs (opentracker's HTTP and UDP replies,
 *   libtorrent's handshake, messages, extended handshake and metadata
 *   pieces), and the test fixtures' .torrent files made by mktorrent,
 *   transmission-create and libtorrent;
 * - messages built here with the repo's encoders, or written byte by byte,
 *   in the shape a real client sends them (qBittorrent's and
 *   Transmission's extended handshakes, libtorrent's ut_pex with all six
 *   keys...), so that every message kind and every optional key is in at
 *   least one seed even where no capture has it.
 */

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'fuzz', 'target.ts')) && existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('fuzz: cannot find the repository root (a folder with fuzz/target.ts) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const ROOT = findRoot();

function readAll(dir: string, suffix: string): Uint8Array[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .sort()
    .map((f) => new Uint8Array(readFileSync(join(dir, f))));
}

/** Captured bytes of one kind (fuzz/seeds/<kind>/*.bin). */
export function captured(kind: string): Uint8Array[] {
  return readAll(join(ROOT, 'fuzz', 'seeds', kind), '.bin');
}

/** The test fixtures: .torrent files written by mktorrent, transmission-create and libtorrent. */
export function fixtureTorrents(): Uint8Array[] {
  return readAll(join(ROOT, 'test', 'fixtures', 'torrents'), '.torrent');
}

const bytesOf = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i) & 0xff);
const INFO_HASH = bytesOf(20, (i) => i * 13 + 7);
const PEER_ID = latin1('-qB4650-k3Zx(8Hm0vQ~');
const BE32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
};
const BE16 = (n: number): Uint8Array => Uint8Array.of((n >> 8) & 0xff, n & 0xff);
const BE64 = (n: bigint): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
};
const ip4 = (a: number, b: number, c: number, d: number, port: number): Uint8Array => concat(Uint8Array.of(a, b, c, d), BE16(port));
const ip6 = (last: number, port: number): Uint8Array => concat(Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), last), BE16(port));

/** Every torrent: the fixtures, plus a few built here with keys the fixtures lack (url-list, padding attr, name.utf-8, private). */
export function torrents(): Uint8Array[] {
  const pieces = bytesOf(40, (i) => i * 7);
  const built = [
    encodeBencode({
      announce: 'http://tracker.example:6969/announce',
      'announce-list': [['http://tracker.example:6969/announce', 'udp://tracker.example:1337/announce'], ['https://backup.example/announce']],
      comment: 'fuzz seed',
      'created by': 'mktorrent 1.1',
      'creation date': 1700000000,
      'url-list': ['http://mirror.example/files/'],
      info: {
        name: 'album',
        'name.utf-8': 'album',
        'piece length': 32768,
        pieces,
        private: 1,
        files: [
          { length: 30000, path: ['cd1', '01 – intro.flac'], 'path.utf-8': ['cd1', '01 – intro.flac'] },
          { length: 2768, path: ['.pad', '2768'], attr: 'p' },
          { length: 100, path: ['cover.jpg'], attr: 'x' },
        ],
      },
    }),
    encodeBencode({ 'url-list': 'http://mirror.example/one.iso', info: { name: 'one.iso', 'piece length': 16384, pieces: pieces.subarray(0, 20), length: 16384 } }),
  ];
  return [...fixtureTorrents(), ...captured('metainfo'), ...built];
}

/** The raw info dictionaries of the torrents: what a ut_metadata exchange delivers. */
export function infoDictionaries(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const t of torrents()) {
    try {
      out.push(Uint8Array.from(parseMetainfo(t).infoBytes));
    } catch {
      // a seed torrent that does not parse has no info dictionary to give
    }
  }
  return out;
}

export function magnets(): Uint8Array[] {
  const hex = Buffer.from(INFO_HASH).toString('hex');
  const b32 = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U';
  const uris = [
    `magnet:?xt=urn:btih:${hex}`,
    `magnet:?xt=urn:btih:${hex.toUpperCase()}&dn=Ubuntu+24.04+Desktop&tr=udp%3A%2F%2Ftracker.opentrackr.org%3A1337%2Fannounce&tr=http%3A%2F%2Ftracker.example%3A6969%2Fannounce`,
    `magnet:?xt=urn:btih:${b32}&dn=caf%C3%A9%20%E2%9C%93&tr.1=udp://a.example:80&tr.2=https://b.example/announce?passkey=abc%26def&x.pe=203.0.113.7:6881&x.pe=[2001:db8::1]:51413`,
    `magnet:?xt=urn:btih:${hex}&xt=urn:btmh:1220${'ab'.repeat(32)}&dn=hybrid&ws=http%3A%2F%2Fmirror.example%2Ffile&as=http://a.example/f.torrent&xs=http://x.example/f.torrent&kt=linux+iso&so=0,2,4-6&xl=1048576`,
    `magnet:?xt=urn:btmh:1220${'cd'.repeat(32)}&dn=v2+only`,
    `magnet:?dn=no+hash&tr=udp://t.example:1`,
    `magnet:?xt=urn:btih:${hex}&xt.1=urn:btih:${hex}&xt.2=urn:sha1:YNCKHTQCWBTRNJIV4WNAE52SJUQCZO5C&x.pe=peer.example:1&x.pe=bad&x.pe=1.2.3.4:0`,
    `MAGNET:?XT=URN:BTIH:${hex}&&dn=&tr=%20`,
  ];
  return uris.map((u) => new Uint8Array(Buffer.from(u, 'utf8')));
}

/** The 68-byte handshakes of qBittorrent/libtorrent (extended, fast, DHT bits), Transmission and ours, plus captured ones. */
export function handshakes(): Uint8Array[] {
  const lt = new Uint8Array(encodeHandshake({ infoHash: INFO_HASH, peerId: PEER_ID, fast: true, extended: true, dht: true }));
  const transmission = new Uint8Array(encodeHandshake({ infoHash: INFO_HASH, peerId: latin1('-TR4050-abcdefghijkl'), extended: true, fast: true }));
  const plain = new Uint8Array(encodeHandshake({ infoHash: INFO_HASH, peerId: latin1('-SB0100-mnopqrstuvwx') }));
  return [...captured('handshake'), lt, transmission, plain, concat(lt, new Uint8Array(encodeMessage({ type: 'have-all' })))];
}

const QBT_EXT = concat(
  latin1(
    'd12:complete_agoi1e1:md11:lt_donthavei7e10:share_modei8e11:upload_onlyi3e12:ut_holepunchi4e11:ut_metadatai2e6:ut_pexi1ee' +
      '13:metadata_sizei5361e1:pi51413e4:reqqi500e11:upload_onlyi1e1:v17:qBittorrent/4.6.56:yourip4:',
  ),
  Uint8Array.of(203, 0, 113, 7),
  latin1('e'),
);
const TRANSMISSION_EXT = latin1('d1:ei0e4:ipv616:' + '\x20\x01\x0d\xb8' + '\0'.repeat(11) + '\x01' + '1:md11:ut_metadatai3e6:ut_pexi1ee13:metadata_sizei31337e1:pi51413e4:reqqi512e11:upload_onlyi1e1:v17:Transmission 4.0.56:yourip4:\x7f\0\0\x01e');

export function extendedHandshakes(): Uint8Array[] {
  const ours = new Uint8Array(
    encodeExtendedHandshake({ m: new Map([['ut_metadata', 1], ['ut_pex', 2]]), clientName: 'seedbox/0.1.0', listenPort: 6881, requestQueue: 250, metadataSize: 40000, yourIp: Uint8Array.of(10, 0, 0, 5) }),
  );
  return [...captured('extended-handshake'), QBT_EXT, TRANSMISSION_EXT, ours, latin1('d1:md11:ut_metadatai0e6:ut_pexi1eee')];
}

/** ut_metadata payloads: requests, rejects, data pieces of a real info dictionary (a middle and a last piece), an unknown msg_type. */
export function utMetadataMessages(): Uint8Array[] {
  const info = infoDictionaries().sort((a, b) => b.length - a.length)[0]!;
  const out: Uint8Array[] = [...captured('ut-metadata')];
  const count = metadataPieceCount(info.length);
  for (const piece of new Set([0, count - 1])) {
    out.push(new Uint8Array(encodeUtMetadata({ type: 'data', piece, totalSize: info.length, data: metadataPiece(info, piece) })));
  }
  out.push(new Uint8Array(encodeUtMetadata({ type: 'request', piece: 0 })));
  out.push(new Uint8Array(encodeUtMetadata({ type: 'reject', piece: 3 })));
  out.push(latin1('d8:msg_typei3e5:piecei0e9:extension3:fooe'));
  return out;
}

/** ut_pex payloads: libtorrent's shape (all six keys, even when empty), ours, and one IPv6-only. */
export function pexMessages(): Uint8Array[] {
  const added = concat(ip4(203, 0, 113, 7, 6881), ip4(198, 51, 100, 23, 51413), ip4(192, 0, 2, 1, 1));
  const libtorrent = encodeBencode(
    new Map<string, Uint8Array>([
      ['added', added],
      ['added.f', Uint8Array.of(PexFlag.encryption | PexFlag.reachable, PexFlag.seed | PexFlag.utp, 0)],
      ['added6', ip6(1, 6881)],
      ['added6.f', Uint8Array.of(PexFlag.holepunch)],
      ['dropped', ip4(10, 0, 0, 9, 6881)],
      ['dropped6', new Uint8Array(0)],
    ]),
  );
  const ours = new Uint8Array(
    encodePex({
      added: [
        { host: '10.1.2.3', port: 6881, flags: PexFlag.seed },
        { host: '2001:db8::7', port: 6882, flags: PexFlag.reachable },
      ],
      dropped: [{ host: '10.9.9.9', port: 1 }],
    }),
  );
  return [...captured('pex'), libtorrent, ours, encodeBencode({ added6: concat(ip6(2, 1), ip6(3, 65535)), 'added6.f': Uint8Array.of(1, 2) })];
}

/** A stream of every message kind, as a peer sends them after the handshake; and one stream per kind. */
export function wireStreams(): Uint8Array[] {
  const messages: Message[] = [
    { type: 'keep-alive' },
    { type: 'choke' },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'not-interested' },
    { type: 'have', index: 7 },
    { type: 'bitfield', bits: Uint8Array.of(0xff, 0xfe, 0x80) },
    { type: 'request', index: 1, begin: 16384, length: 16384 },
    { type: 'piece', index: 1, begin: 0, block: bytesOf(64, (i) => i) },
    { type: 'cancel', index: 1, begin: 16384, length: 16384 },
    { type: 'port', port: 6881 },
    { type: 'suggest', index: 2 },
    { type: 'have-all' },
    { type: 'have-none' },
    { type: 'reject', index: 1, begin: 32768, length: 16384 },
    { type: 'allowed-fast', index: 3 },
    { type: 'extended', extendedId: 0, payload: QBT_EXT },
    { type: 'extended', extendedId: 2, payload: latin1('d8:msg_typei0e5:piecei0ee') },
  ];
  const frames = messages.map((m) => new Uint8Array(encodeMessage(m)));
  return [...captured('wire'), concat(...frames), ...frames];
}

/** HTTP announce replies in the shapes trackers send: opentracker's compact reply, BEP 3 dictionary peers, IPv6, failures, warnings. */
export function httpTrackerReplies(): Uint8Array[] {
  const peers = concat(ip4(203, 0, 113, 7, 6881), ip4(198, 51, 100, 23, 51413));
  const opentracker = concat(latin1('d8:completei2e10:downloadedi5e10:incompletei1e8:intervali1800e12:min intervali900e5:peers12:'), peers, latin1('e'));
  const withV6 = concat(latin1('d8:completei1e10:incompletei0e8:intervali1800e5:peers0:6:peers618:'), ip6(1, 6881), latin1('e'));
  const dictPeers = encodeBencode({
    interval: 1800,
    'tracker id': 'tid-1234',
    'warning message': 'you are using an old client',
    'external ip': Uint8Array.of(203, 0, 113, 99),
    peers: [
      { ip: '203.0.113.7', port: 6881, 'peer id': PEER_ID },
      { ip: 'peer.example', port: 51413 },
      { ip: Uint8Array.of(198, 51, 100, 1), port: 1 },
      { ip: '2001:db8::2', port: 65535 },
    ],
  });
  return [
    ...captured('tracker-http'),
    opentracker,
    withV6,
    dictPeers,
    latin1('d14:failure reason63:Requested download is not authorized for use with this tracker.e'),
    latin1('d14:failure reason12:torrent gone8:retry in5:nevere'),
    latin1('d14:failure reason4:busy8:retry ini30ee'),
    latin1('d8:intervali60e5:peers0:e'),
  ];
}

/** HTTP scrape replies (BEP 48) as trackers send them: opentracker's, with flags, a failure, an empty one. */
export function httpScrapeReplies(): Uint8Array[] {
  const entry = (b: number, counts: string): Uint8Array => concat(latin1('20:'), new Uint8Array(20).fill(b), latin1(`d${counts}e`));
  const one = concat(latin1('d5:filesd'), entry(0xab, '8:completei5e10:downloadedi40e10:incompletei2e'), latin1('ee'));
  const two = concat(
    latin1('d5:filesd'),
    entry(1, '8:completei0e10:downloadedi0e10:incompletei0e'),
    entry(2, '8:completei1e10:downloadedi3e10:incompletei9e4:name1:x'),
    latin1('e5:flagsd20:min_request_intervali900eee'),
  );
  return [one, two, latin1('d5:filesdee'), latin1('d14:failure reason21:scrape not permittede')];
}

/** UDP tracker replies (BEP 15): connect, IPv4 and IPv6 announce, scrape, error; transaction id 0x1234abcd. */
export function udpTrackerReplies(): Uint8Array[] {
  const tid = BE32(0x1234abcd);
  const header = (action: number) => concat(BE32(action), tid);
  return [
    ...captured('tracker-udp'),
    concat(header(0), BE64(0x0123456789abcdefn)),
    concat(header(1), BE32(1800), BE32(3), BE32(7), ip4(203, 0, 113, 7, 6881), ip4(198, 51, 100, 23, 51413)),
    concat(header(1), BE32(1800), BE32(0), BE32(1), ip6(1, 6881)),
    concat(header(2), BE32(7), BE32(42), BE32(3), BE32(0), BE32(0), BE32(0)),
    concat(header(3), latin1('Connection ID missmatch.\0')),
    concat(BE64(UDP_PROTOCOL_ID), BE32(0), tid),
  ];
}

/** Bencode from every format above, and the corner cases of the grammar. */
export function bencodeValues(): Uint8Array[] {
  const grammar = ['i0e', 'i-1e', 'i9007199254740991e', '0:', '4:spam', 'le', 'de', 'l4:spam4:eggse', 'd3:cow3:moo4:spam4:eggse', 'd4:spaml1:a1:bee', 'lli1eelde0:ee'];
  return [...captured('bencode'), ...grammar.map(latin1), ...torrents().slice(0, 3), ...extendedHandshakes(), ...pexMessages(), ...httpTrackerReplies(), ...utMetadataMessages().slice(-3)];
}
