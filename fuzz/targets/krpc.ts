import { isDeepStrictEqual } from 'node:util';
import { decodeCompactNodes, decodeKrpc, encodeKrpc, KRPC_ERROR, KrpcError, type KrpcMessage } from '@seedbox/protocol';
import { bencodeDict } from '../generate.js';
import { mutateBencode } from '../structured.js';
import { captured } from '../seeds.js';
import { attempt, latin1, once, type FuzzTarget } from '../target.js';

/**
 * The DHT's KRPC datagrams (BEP 5, with BEP 32 `nodes6`/`want`, BEP 42 `ip`,
 * BEP 43 `ro`): decodeKrpc answers a KrpcMessage or throws a KrpcError for
 * any bytes. Beyond that contract, what it accepts must encode again and
 * decode to the same message; a break of that is reported as a crash.
 */

const KRPC_KEYS = ['t', 'y', 'q', 'a', 'r', 'e', 'v', 'ro', 'ip', 'id', 'target', 'info_hash', 'port', 'implied_port', 'token', 'want', 'nodes', 'nodes6', 'values', 'n4', 'n6', 'ping', 'find_node', 'get_peers', 'announce_peer'];

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const bytesOf = (n: number, f: (i: number) => number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => f(i) & 0xff);

function krpcSeeds(): Uint8Array[] {
  // BEP 5's own examples, as the BEP writes them.
  const bep5 = [
    'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe',
    'd1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re',
    'd1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee',
    'd1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe',
    'd1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re',
    'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe',
    'd1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re',
    'd1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re',
    'd1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe',
  ].map(latin1);
  // Captured from libtorrent 2.0.8 and Transmission 3.00 (the same bytes as packages/protocol/tests/krpc.test.ts).
  const real = [
    '64313a6164323a6273693165323a696432303a484e9db8542a6461a3305eb05f7e4815bf6218b5393a696e666f5f6861736832303a484e9db8542a6461a3305eb036402dc1b9c46aab65313a71393a6765745f7065657273313a74323a6889313a76343a4c540208313a79313a7165',
    '64313a6164323a6273693165323a696432303a5d04aa1680477d28ecd6a65e6b7fdfa83c0ec130393a696e666f5f6861736832303a5d04aa1680477d28ecd6a65e683b1aa9e4ec354a343a77616e746c323a6e366565313a71393a6765745f7065657273313a74323a734c313a76343a4c540208313a79313a7165',
    '64323a6970363a7f000001b797313a7264323a696432303a484e9db8542a6461a3305eb05f7e4815bf6218b5353a6e6f646573303a313a7069343639393965353a746f6b656e343a52a3a795363a76616c7565736c363a7f0000011ae16565313a74323a6732313a76343a4c540208313a79313a7265',
    '64323a697031383a00000000000000000000000000000001b738313a7264323a696432303a5d04aa1680477d28ecd6a65e6b7fdfa83c0ec130353a6e6f646573303a363a6e6f6465733633383a515545524945525f5f5f5f5f5f5f5f5f5f5f5f5f00000000000000000000000000000001b738313a7069343639303465353a746f6b656e343aebb5bd8465313a74323a4736313a76343a4c540208313a79313a7265',
    '64313a656c693230336532323a696e76616c69642076616c756520666f72202769642765313a74323a6231313a76343a4c540208313a79313a6565',
    '64313a7264323a696432303aa58a1eeca11e7de0fea7a96ae7df8b9016c717ff353a746f6b656e383a17c425da4add1fd0363a76616c7565736c363acb0071021ae16565313a74323a6732313a79313a7265',
  ].map(hex);
  // Built with the encoder: every message kind and every optional key in at least one seed.
  const id = bytesOf(20, (i) => i * 7 + 1);
  const target = bytesOf(20, (i) => 255 - i);
  const t = Uint8Array.of(0x12, 0x34);
  const nodes = Array.from({ length: 8 }, (_, i) => ({ id: bytesOf(20, (j) => i * 31 + j), host: `203.0.113.${i + 1}`, port: 6881 + i }));
  const nodes6 = Array.from({ length: 4 }, (_, i) => ({ id: bytesOf(20, (j) => i * 17 + j), host: `2001:db8::${i + 1}`, port: 51413 - i }));
  const built: KrpcMessage[] = [
    { kind: 'query', t, query: { method: 'ping', id }, readOnly: true, version: latin1('SB\x00\x01') },
    { kind: 'query', t, query: { method: 'find_node', id, target, want: ['n4', 'n6'] } },
    { kind: 'query', t, query: { method: 'get_peers', id, infoHash: target, want: ['n6'] } },
    { kind: 'query', t, query: { method: 'announce_peer', id, infoHash: target, port: 6881, token: latin1('tokn'), impliedPort: false } },
    { kind: 'response', t, ip: { host: '198.51.100.9', port: 40000 }, response: { id, nodes, nodes6 } },
    { kind: 'response', t, ip: { host: '2001:db8::99', port: 40000 }, response: { id, token: latin1('tokn'), values: [{ host: '203.0.113.1', port: 1 }, { host: '2001:db8::7', port: 65535 }] } },
    { kind: 'error', t, code: KRPC_ERROR.methodUnknown, message: 'Method Unknown' },
  ];
  return [...captured('krpc'), ...bep5, ...real, ...built.map((m) => new Uint8Array(encodeKrpc(m)))];
}

/** The decoded message without what a second pass may rightly change: an error's text is cut to 1 KiB for logs, and a cut text is cut again. */
function comparable(m: KrpcMessage): unknown {
  return m.kind === 'error' ? { ...m, message: m.message.length < 1000 ? m.message : '(long)' } : m;
}

export const krpc: FuzzTarget = {
  name: 'krpc',
  covers: 'decodeKrpc (DHT queries, responses and errors; BEP 5, 32, 42, 43), then encodeKrpc and decodeKrpc again on what it accepts; decodeCompactNodes',
  seeds: once(krpcSeeds),
  tokens: KRPC_KEYS.map((k) => `${k.length}:${k}`),
  structured: (seed, rng) => mutateBencode(seed, rng, KRPC_KEYS),
  generate: (rng) => bencodeDict(rng, KRPC_KEYS, 0.5),
  run(input) {
    const isKrpcError = (e: unknown) => e instanceof KrpcError;
    attempt(() => decodeCompactNodes(input, 4), isKrpcError);
    attempt(() => decodeCompactNodes(input, 6), isKrpcError);
    const m = decodeKrpc(input);
    let again: KrpcMessage;
    try {
      again = decodeKrpc(encodeKrpc(m));
    } catch (err) {
      throw new Error(`a ${m.kind} decodeKrpc accepted does not encode and decode again: ${(err as Error).message}`, { cause: err });
    }
    if (!isDeepStrictEqual(comparable(again), comparable(m))) throw new Error(`a ${m.kind} decodeKrpc accepted reads differently once encoded again`);
    return `ok ${m.kind}`;
  },
  isTypedError: (e) => e instanceof KrpcError,
};
