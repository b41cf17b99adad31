import {
  BencodeError,
  decodeBencode,
  decodeBencodePrefix,
  decodeBencodeWithSpans,
  decodeExtendedHandshake,
  decodeHandshake,
  decodeMessage,
  decodePex,
  decodeUdpAnnounceResponse,
  decodeUdpConnectResponse,
  decodeUdpErrorResponse,
  decodeUdpScrapeResponse,
  decodeUtMetadata,
  MagnetError,
  MetainfoError,
  parseHttpAnnounceResponse,
  parseHttpScrapeResponse,
  parseInfoDictionary,
  parseMagnet,
  parseMetainfo,
  PexError,
  readUdpHeader,
  TrackerError,
  UtMetadataError,
  WireError,
  type DecodeLimits,
} from '@seedbox/protocol';
import { bencodeBytes, bencodeDict } from '../generate.js';
import type { Rng } from '../rng.js';
import { mutateBencode } from '../structured.js';
import * as seeds from '../seeds.js';
import { attempt, concat, once, type FuzzTarget } from '../target.js';

/**
 * The protocol package's decoders of bytes from peers, trackers and users.
 * Each one documents a single typed error for any input (BencodeError,
 * MetainfoError, MagnetError, WireError, UtMetadataError, PexError,
 * TrackerError); that is the contract checked.
 */

const isBencodeError = (e: unknown) => e instanceof BencodeError;
const isWireError = (e: unknown) => e instanceof WireError;
const isTrackerError = (e: unknown) => e instanceof TrackerError;

const TORRENT_KEYS = ['announce', 'announce-list', 'comment', 'created by', 'creation date', 'encoding', 'info', 'url-list', 'name', 'name.utf-8', 'piece length', 'pieces', 'private', 'length', 'files', 'path', 'path.utf-8', 'attr', 'md5sum', 'source'];

/** A torrent-shaped dictionary: the right keys at the right depth, random values; half the time a single file, half a file list. */
function generateTorrent(rng: Rng): Uint8Array {
  const pieceLength = rng.pick([1, 16384, 32768, 262144, 2 ** 30, 2 ** 30 + 1, 0, -1]);
  const lengths = Array.from({ length: 1 + rng.size(3) }, () => rng.pick([0, 1, 16384, 16385, 2 ** 40, 2 ** 53 - 1, -5]));
  const total = lengths.reduce((a, b) => a + Math.max(0, b), 0);
  const pieceCount = pieceLength > 0 && total < 2 ** 32 ? Math.ceil(total / pieceLength) + rng.int(-1, 1) : rng.size(4);
  const pieces = `${Math.max(0, pieceCount) * 20}:${'x'.repeat(Math.max(0, pieceCount) * 20)}`;
  const seg = () => rng.pick(['a', 'b.txt', '..', '.', 'C:', 'x/y', 'x\\y', '', '\0', 'caf\xc3\xa9', '\xff\xfe']);
  const body = rng.chance(0.5)
    ? `6:lengthi${lengths[0]}e`
    : `5:filesl${lengths.map((l) => `d6:lengthi${l}e4:pathl${Array.from({ length: 1 + rng.size(2) }, () => { const s = seg(); return `${s.length}:${s}`; }).join('')}ee`).join('')}e`;
  const name = seg();
  const info = `d${body}4:name${name.length}:${name}12:piece lengthi${pieceLength}e6:pieces${pieces}e`;
  const outer = rng.chance(0.5) ? '8:announce35:http://tracker.example:6969/announce' : '';
  return new Uint8Array(Buffer.from(`d${outer}4:info${info}e`, 'latin1'));
}

export const bencode: FuzzTarget = {
  name: 'bencode',
  covers: 'decodeBencode (default and strict key order), decodeBencodePrefix, decodeBencodeWithSpans',
  seeds: once(seeds.bencodeValues),
  structured: (seed, rng) => mutateBencode(seed, rng, TORRENT_KEYS),
  generate: (rng) => bencodeBytes(rng, TORRENT_KEYS),
  run(input) {
    const label = attempt(() => decodeBencode(input), isBencodeError);
    attempt(() => decodeBencode(input, { strictKeyOrder: true, maxDepth: 8, maxItems: 64 }), isBencodeError);
    attempt(() => decodeBencodePrefix(input, { maxDepth: 4 }), isBencodeError);
    attempt(() => decodeBencodeWithSpans(input, ['info', 'm']), isBencodeError);
    return label;
  },
  isTypedError: isBencodeError,
};

export const metainfo: FuzzTarget = {
  name: 'metainfo',
  covers: 'parseMetainfo',
  seeds: once(seeds.torrents),
  tokens: TORRENT_KEYS.map((k) => `${k.length}:${k}`),
  structured: (seed, rng) => mutateBencode(seed, rng, TORRENT_KEYS),
  generate: generateTorrent,
  maxInputBytes: 256 * 1024,
  run(input) {
    parseMetainfo(input, { maxFiles: 10_000 });
    return 'ok';
  },
  isTypedError: (e) => e instanceof MetainfoError,
};

export const infoDictionary: FuzzTarget = {
  name: 'info-dictionary',
  covers: 'parseInfoDictionary (the metadata a magnet link fetches from peers)',
  seeds: once(seeds.infoDictionaries),
  tokens: TORRENT_KEYS.map((k) => `${k.length}:${k}`),
  structured: (seed, rng) => mutateBencode(seed, rng, TORRENT_KEYS),
  generate: (rng) => {
    const t = generateTorrent(rng);
    const at = Buffer.from(t).indexOf('4:infod');
    return at < 0 ? t : t.subarray(at + 6, t.length - 1);
  },
  maxInputBytes: 256 * 1024,
  run(input) {
    parseInfoDictionary(input, { announce: [['udp://tracker.example:1337/announce']] });
    return 'ok';
  },
  isTypedError: (e) => e instanceof MetainfoError,
};

export const magnet: FuzzTarget = {
  name: 'magnet',
  covers: 'parseMagnet (the URI as UTF-8 text, as a form field or a redirect delivers it)',
  seeds: once(seeds.magnets),
  structured(seed, rng) {
    const [head, query = ''] = Buffer.from(seed).toString('utf8').split('?', 2);
    const params = query.split('&');
    const i = rng.below(params.length);
    const values = ['urn:btih:0123456789abcdef0123456789abcdef01234567', 'urn:btih:MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U', 'urn:btmh:1220' + 'ab'.repeat(32), 'udp://t.example:6969', '%E2%9C%93', '%', '%C3', '[::1]:1', '1.2.3.4:65535', '', 'a+b'];
    switch (rng.below(5)) {
      case 0:
        params.splice(i, 1);
        break;
      case 1:
        params.splice(i, 0, params[i] ?? '');
        break;
      case 2:
        params[i] = `${(params[i] ?? 'xt').split('=')[0]}=${rng.pick(values)}`;
        break;
      case 3:
        params[i] = `${rng.pick(['xt', 'xt.1', 'dn', 'tr', 'tr.10', 'x.pe', 'ws', 'XT', 'xt.', '.1'])}=${(params[i] ?? '').split('=').slice(1).join('=')}`;
        break;
      default:
        params.splice(i, 0, `${rng.pick(['xt', 'dn', 'tr', 'x.pe'])}=${rng.pick(values)}`);
    }
    return new Uint8Array(Buffer.from(`${head}?${params.join('&')}`, 'utf8'));
  },
  tokens: ['magnet:?', 'xt=urn:btih:', '&xt=urn:btih:', 'urn:btmh:', '&dn=', '&tr=', '&tr.1=', '&x.pe=', '[::1]:1', ':65536', '%C3', '%E2%9C', '.1', '.01'],
  generate(rng) {
    const hash = rng.pick(['0123456789abcdef0123456789abcdef01234567', 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U', 'mfrggzdfmztwq2lknnwg23tpobyxe430', '0'.repeat(rng.size(6))]);
    const params = Array.from({ length: rng.size(3) }, () => {
      const key = rng.pick(['xt', 'dn', 'tr', 'x.pe', 'ws', 'xt.1', 'tr.2', 'so', '']);
      const value = rng.pick([`urn:btih:${hash}`, `urn:btmh:1220${hash}`, 'udp://t.example:1', '%zz', '1.2.3.4:5', '[2001:db8::1]:6881', 'a+b%20c', '']);
      return `${key}=${value}`;
    });
    return new Uint8Array(Buffer.from(`magnet:?${params.join('&')}`, 'utf8'));
  },
  run(input) {
    parseMagnet(Buffer.from(input).toString('utf8'));
    return 'ok';
  },
  isTypedError: (e) => e instanceof MagnetError,
};

export const handshake: FuzzTarget = {
  name: 'handshake',
  covers: 'decodeHandshake, on the whole input and on each prefix length a socket could deliver',
  seeds: once(seeds.handshakes),
  run(input) {
    // A short prefix is what a first read often gives; each must answer need-more or a WireError, never crash.
    for (const cut of [1, 20, 27, 48, 67]) if (cut < input.length) attempt(() => decodeHandshake(input.subarray(0, cut)), isWireError);
    return decodeHandshake(input).kind;
  },
  isTypedError: isWireError,
};

/** Splits a stream at its length prefixes (as far as they hold), changes frames, and joins it again. */
function mutateFrames(seed: Uint8Array, rng: Rng): Uint8Array | undefined {
  const frames: Uint8Array[] = [];
  let at = 0;
  while (at + 4 <= seed.length) {
    const length = new DataView(seed.buffer, seed.byteOffset + at, 4).getUint32(0);
    if (at + 4 + length > seed.length) break;
    frames.push(seed.slice(at, at + 4 + length));
    at += 4 + length;
  }
  if (frames.length === 0) return undefined;
  const tail = seed.subarray(at);
  const i = rng.below(frames.length);
  const frame = frames[i]!;
  const setLength = (f: Uint8Array, n: number) => new DataView(f.buffer, f.byteOffset, 4).setUint32(0, n >>> 0);
  switch (rng.below(7)) {
    case 0:
      for (let n = 1 + rng.size(rng.chance(0.9) ? 3 : 10); n > 0; n--) frames.splice(i, 0, frame);
      break;
    case 1:
      frames.splice(i, 1);
      break;
    case 2: {
      const j = rng.below(frames.length);
      [frames[i], frames[j]] = [frames[j]!, frame];
      break;
    }
    case 3:
      if (frame.length > 4) frame[4] = rng.chance(0.7) ? rng.pick([0, 1, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16, 17, 20]) : rng.below(256);
      break;
    case 4:
      setLength(frame, rng.chance(0.5) ? frame.length - 4 + rng.int(-2, 2) : rng.pick([0, 1, 2, 3, 5, 9, 10, 13, 16393, 16394, 0x100001, 0x7fffffff, 0x80000001, 0xffffffff]));
      break;
    case 5: {
      // A body of another size, the prefix kept true to it.
      const body = rng.chance(0.5) ? frame.subarray(4, 4 + rng.below(frame.length - 3)) : concat(frame.subarray(4), rng.bytes(rng.size(rng.chance(0.9) ? 6 : 15)));
      const out = concat(new Uint8Array(4), body);
      setLength(out, body.length);
      frames[i] = out;
      break;
    }
    default: {
      // An extended message's payload changed as bencode.
      if (frame[4] !== 20 || frame.length < 6) break;
      const payload = mutateBencode(frame.subarray(6), rng, [...EXTENDED_KEYS, ...UT_METADATA_KEYS, ...PEX_KEYS]);
      if (!payload) break;
      const out = concat(new Uint8Array(4), frame.subarray(4, 6), payload);
      setLength(out, out.length - 4);
      frames[i] = out;
    }
  }
  return concat(...frames, tail);
}

const TIGHT_LIMITS: DecodeLimits = { maxBlockLength: 64, maxBitfieldLength: 3, maxExtendedLength: 128 };

/** Decodes messages from the front of `buf` until it needs more bytes, as the connection's read loop does. */
function drain(buf: Uint8Array, limits: DecodeLimits | undefined): string {
  let rest = buf;
  for (let n = 0; ; n++) {
    const r = decodeMessage(rest, limits);
    if (r.kind === 'need-more') return n === 0 ? 'need-more' : 'ok';
    if (r.used <= 0 || r.used > rest.length) throw new Error(`decodeMessage used ${r.used} bytes of ${rest.length}`);
    rest = rest.subarray(r.used);
  }
}

export const wire: FuzzTarget = {
  name: 'wire',
  covers: 'decodeMessage over a byte stream until need-more, with the default limits and with tight ones',
  seeds: once(seeds.wireStreams),
  structured: mutateFrames,
  generate(rng) {
    // Frames with a mostly matching length prefix and a mostly known id: random bytes would almost all start with a huge length.
    const frames = Array.from({ length: 1 + rng.size(3) }, () => {
      const body = rng.bytes(rng.size(rng.chance(0.9) ? 5 : 15));
      const id = rng.chance(0.8) ? rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16, 17, 20]) : rng.below(256);
      const length = rng.chance(0.9) ? body.length + 1 : rng.u32();
      const head = new Uint8Array(5);
      new DataView(head.buffer).setUint32(0, length);
      head[4] = id;
      return concat(head, body);
    });
    return concat(...frames);
  },
  maxInputBytes: 64 * 1024,
  run(input) {
    const label = attempt(() => drain(input, undefined), isWireError);
    attempt(() => drain(input, TIGHT_LIMITS), isWireError);
    return label;
  },
  isTypedError: isWireError,
};

const EXTENDED_KEYS = ['m', 'v', 'p', 'reqq', 'metadata_size', 'yourip', 'ipv6', 'ipv4', 'e', 'upload_only', 'complete_ago', 'ut_metadata', 'ut_pex', 'lt_donthave', 'ut_holepunch'];

export const extendedHandshake: FuzzTarget = {
  name: 'extended-handshake',
  covers: 'decodeExtendedHandshake (the BEP 10 handshake payload)',
  seeds: once(seeds.extendedHandshakes),
  tokens: EXTENDED_KEYS.map((k) => `${k.length}:${k}`),
  structured: (seed, rng) => mutateBencode(seed, rng, EXTENDED_KEYS),
  generate: (rng) => bencodeDict(rng, EXTENDED_KEYS),
  run(input) {
    decodeExtendedHandshake(input);
    return 'ok';
  },
  isTypedError: isWireError,
};

const UT_METADATA_KEYS = ['msg_type', 'piece', 'total_size'];

export const utMetadata: FuzzTarget = {
  name: 'ut-metadata',
  covers: 'decodeUtMetadata (BEP 9 request, data and reject payloads), with the default and a 1 KiB metadata bound',
  seeds: once(seeds.utMetadataMessages),
  tokens: UT_METADATA_KEYS.map((k) => `${k.length}:${k}`),
  structured: (seed, rng) => mutateBencode(seed, rng, UT_METADATA_KEYS),
  generate: (rng) => concat(bencodeDict(rng, UT_METADATA_KEYS, 0.8), rng.bytes(rng.size(15))),
  run(input) {
    const isTyped = (e: unknown) => e instanceof UtMetadataError;
    attempt(() => decodeUtMetadata(input, { maxMetadataSize: 1024 }), isTyped);
    return decodeUtMetadata(input).type;
  },
  isTypedError: (e) => e instanceof UtMetadataError,
};

const PEX_KEYS = ['added', 'added.f', 'added6', 'added6.f', 'dropped', 'dropped6'];

export const pex: FuzzTarget = {
  name: 'pex',
  covers: 'decodePex (BEP 11 ut_pex payloads)',
  seeds: once(seeds.pexMessages),
  tokens: PEX_KEYS.map((k) => `${k.length}:${k}`),
  structured: (seed, rng) => mutateBencode(seed, rng, PEX_KEYS),
  generate: (rng) => bencodeDict(rng, PEX_KEYS, 0.7),
  run(input) {
    decodePex(input);
    return 'ok';
  },
  isTypedError: (e) => e instanceof PexError,
};

const HTTP_TRACKER_KEYS = ['failure reason', 'retry in', 'warning message', 'interval', 'min interval', 'tracker id', 'complete', 'incomplete', 'downloaded', 'peers', 'peers6', 'external ip', 'ip', 'port', 'peer id'];

export const trackerHttp: FuzzTarget = {
  name: 'tracker-http',
  covers: 'parseHttpAnnounceResponse (compact and dictionary peers, peers6, failure reason, retry in)',
  seeds: once(seeds.httpTrackerReplies),
  tokens: HTTP_TRACKER_KEYS.map((k) => `${k.length}:${k}`),
  structured: (seed, rng) => mutateBencode(seed, rng, HTTP_TRACKER_KEYS),
  generate: (rng) => bencodeDict(rng, HTTP_TRACKER_KEYS, 0.5),
  run(input) {
    parseHttpAnnounceResponse(input);
    return 'ok';
  },
  isTypedError: isTrackerError,
};

const HTTP_SCRAPE_KEYS = ['files', 'complete', 'incomplete', 'downloaded', 'flags', 'min_request_interval', 'failure reason', 'name'];

export const trackerScrapeHttp: FuzzTarget = {
  name: 'tracker-scrape-http',
  covers: 'parseHttpScrapeResponse (BEP 48: files by raw info hash, flags.min_request_interval, failure reason)',
  seeds: once(seeds.httpScrapeReplies),
  tokens: HTTP_SCRAPE_KEYS.map((k) => `${k.length}:${k}`),
  structured: (seed, rng) => mutateBencode(seed, rng, HTTP_SCRAPE_KEYS),
  generate: (rng) => bencodeDict(rng, HTTP_SCRAPE_KEYS, 0.5),
  run(input) {
    parseHttpScrapeResponse(input);
    return 'ok';
  },
  isTypedError: isTrackerError,
};

export const trackerUdp: FuzzTarget = {
  name: 'tracker-udp',
  covers: 'readUdpHeader, decodeUdpConnectResponse, decodeUdpAnnounceResponse (IPv4 and IPv6), decodeUdpScrapeResponse, decodeUdpErrorResponse; with the transaction id the packet carries',
  seeds: once(seeds.udpTrackerReplies),
  generate(rng) {
    const head = new Uint8Array(8);
    const view = new DataView(head.buffer);
    view.setUint32(0, rng.chance(0.8) ? rng.below(4) : rng.u32());
    view.setUint32(4, 0x1234abcd);
    const peers = rng.size(6);
    return concat(head, rng.bytes(rng.chance(0.7) ? 12 + peers * rng.pick([6, 18]) : rng.size(10)));
  },
  maxInputBytes: 4096,
  run(input) {
    const header = input.length >= 8 ? readUdpHeader(input) : { action: -1, transactionId: 0 };
    const tid = header.transactionId;
    const labels = [
      attempt(() => decodeUdpConnectResponse(input, tid), isTrackerError),
      attempt(() => decodeUdpAnnounceResponse(input, tid, 4), isTrackerError),
      attempt(() => decodeUdpAnnounceResponse(input, tid, 6), isTrackerError),
      attempt(() => decodeUdpErrorResponse(input), isTrackerError),
      // As many hashes as the packet has room for, and one more than that.
      attempt(() => decodeUdpScrapeResponse(input, tid, Math.max(1, Math.floor((input.length - 8) / 12))), isTrackerError),
    ];
    attempt(() => decodeUdpErrorResponse(input, tid ^ 1), isTrackerError);
    attempt(() => decodeUdpScrapeResponse(input, tid, Math.floor((input.length - 8) / 12) + 1), isTrackerError);
    // The answer of the decoder the packet's action is for.
    const byAction = ['connect', 'announce', 'scrape', 'error'];
    const label = [labels[0], labels[1], labels[4], labels[3]][header.action];
    return label === undefined ? 'other action' : `${byAction[header.action]} ${label}`;
  },
  isTypedError: isTrackerError,
};

export const PROTOCOL_TARGETS: FuzzTarget[] = [bencode, metainfo, infoDictionary, magnet, handshake, wire, extendedHandshake, utMetadata, pex, trackerHttp, trackerScrapeHttp, trackerUdp];
