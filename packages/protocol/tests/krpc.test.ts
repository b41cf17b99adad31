import { describe, expect, it } from 'vitest';
import { BencodeError, encodeBencode } from '../src/bencode.js';
import { ProtocolError } from '../src/errors.js';
import {
  KRPC_ERROR,
  KrpcError,
  MAX_KRPC_DATAGRAM,
  MAX_KRPC_VALUES,
  NODE_ID_LENGTH,
  decodeCompactNodes,
  decodeKrpc,
  encodeCompactNodes,
  encodeKrpc,
  type CompactNode,
  type KrpcMessage,
  type KrpcResponse,
} from '../src/krpc.js';

const lat = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

/** The error a decode or encode throws; fails the test unless it is a KrpcError. */
function errorOf(f: () => unknown): KrpcError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KrpcError);
    expect(e).toBeInstanceOf(ProtocolError);
    return e as KrpcError;
  }
  throw new Error('expected a KrpcError, but nothing was thrown');
}

const codeOf = (f: () => unknown): string => errorOf(f).code;

// The ids BEP 5's examples use.
const ABC = lat('abcdefghij0123456789');
const MNO = lat('mnopqrstuvwxyz123456');
const AA = lat('aa');

describe('KRPC: the examples of BEP 5, byte for byte', () => {
  // Each datagram exactly as BEP 5 writes it. Those our encoder writes the same way are checked both ways.
  const examples: [string, string, KrpcMessage, boolean][] = [
    ['ping query', 'd1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe', { kind: 'query', t: AA, query: { method: 'ping', id: ABC } }, true],
    ['ping response', 'd1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re', { kind: 'response', t: AA, response: { id: MNO } }, true],
    ['generic error', 'd1:eli201e23:A Generic Error Ocurrede1:t2:aa1:y1:ee', { kind: 'error', t: AA, code: KRPC_ERROR.generic, message: 'A Generic Error Ocurred' }, true],
    [
      'find_node query',
      'd1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz123456e1:q9:find_node1:t2:aa1:y1:qe',
      { kind: 'query', t: AA, query: { method: 'find_node', id: ABC, target: MNO } },
      true,
    ],
    [
      'get_peers query',
      'd1:ad2:id20:abcdefghij01234567899:info_hash20:mnopqrstuvwxyz123456e1:q9:get_peers1:t2:aa1:y1:qe',
      { kind: 'query', t: AA, query: { method: 'get_peers', id: ABC, infoHash: MNO } },
      true,
    ],
    [
      'get_peers response with peers',
      'd1:rd2:id20:abcdefghij01234567895:token8:aoeusnth6:valuesl6:axje.u6:idhtnmee1:t2:aa1:y1:re',
      {
        kind: 'response',
        t: AA,
        response: { id: ABC, token: lat('aoeusnth'), values: [{ host: '97.120.106.101', port: 0x2e75 }, { host: '105.100.104.116', port: 0x6e6d }] },
      },
      true,
    ],
    [
      'announce_peer query',
      'd1:ad2:id20:abcdefghij012345678912:implied_porti1e9:info_hash20:mnopqrstuvwxyz1234564:porti6881e5:token8:aoeusnthe1:q13:announce_peer1:t2:aa1:y1:qe',
      { kind: 'query', t: AA, query: { method: 'announce_peer', id: ABC, infoHash: MNO, port: 6881, token: lat('aoeusnth'), impliedPort: true } },
      true,
    ],
    // BEP 5's node lists are the placeholder "def456...", 9 bytes: less than one 26-byte entry, so no nodes (see krpc-nodes.ts).
    ['find_node response', 'd1:rd2:id20:0123456789abcdefghij5:nodes9:def456...e1:t2:aa1:y1:re', { kind: 'response', t: AA, response: { id: lat('0123456789abcdefghij'), nodes: [] } }, false],
    [
      'get_peers response with nodes',
      'd1:rd2:id20:abcdefghij01234567895:nodes9:def456...5:token8:aoeusnthe1:t2:aa1:y1:re',
      { kind: 'response', t: AA, response: { id: ABC, nodes: [], token: lat('aoeusnth') } },
      false,
    ],
  ];

  for (const [name, datagram, message, sameBytes] of examples) {
    it(`decodes the ${name}${sameBytes ? ' and encodes it back to the same bytes' : ''}`, () => {
      expect(decodeKrpc(lat(datagram))).toEqual(message);
      if (sameBytes) expect(text(encodeKrpc(message))).toBe(datagram);
    });
  }
});

describe('KRPC: datagrams captured from libtorrent 2.0.8 and Transmission 3.00', () => {
  // Captured on the loopback and a test-net address by querying each client's DHT
  // (and answering libtorrent's bootstrap queries), with ids we chose for our side.
  const LT_VERSION = lat('LT\x02\x08');

  it("reads libtorrent's bootstrap get_peers query, with its `bs` flag (unknown, ignored) and `v`", () => {
    const m = decodeKrpc(hex('64313a6164323a6273693165323a696432303a484e9db8542a6461a3305eb05f7e4815bf6218b5393a696e666f5f6861736832303a484e9db8542a6461a3305eb036402dc1b9c46aab65313a71393a6765745f7065657273313a74323a6889313a76343a4c540208313a79313a7165'));
    expect(m).toEqual({
      kind: 'query',
      t: hex('6889'),
      version: LT_VERSION,
      query: { method: 'get_peers', id: hex('484e9db8542a6461a3305eb05f7e4815bf6218b5'), infoHash: hex('484e9db8542a6461a3305eb036402dc1b9c46aab') },
    });
  });

  it("reads libtorrent's BEP 32 `want` (n6 asked of an IPv4 node)", () => {
    const m = decodeKrpc(hex('64313a6164323a6273693165323a696432303a5d04aa1680477d28ecd6a65e6b7fdfa83c0ec130393a696e666f5f6861736832303a5d04aa1680477d28ecd6a65e683b1aa9e4ec354a343a77616e746c323a6e366565313a71393a6765745f7065657273313a74323a734c313a76343a4c540208313a79313a7165'));
    expect(m.kind === 'query' && m.query).toMatchObject({ method: 'get_peers', want: ['n6'] });
  });

  it("reads libtorrent's get_peers response: BEP 42 `ip`, its own `p` (ignored), a token and the peer we announced", () => {
    const m = decodeKrpc(hex('64323a6970363a7f000001b797313a7264323a696432303a484e9db8542a6461a3305eb05f7e4815bf6218b5353a6e6f646573303a313a7069343639393965353a746f6b656e343a52a3a795363a76616c7565736c363a7f0000011ae16565313a74323a6732313a76343a4c540208313a79313a7265'));
    expect(m).toEqual({
      kind: 'response',
      t: lat('g2'),
      ip: { host: '127.0.0.1', port: 46999 },
      version: LT_VERSION,
      response: { id: hex('484e9db8542a6461a3305eb05f7e4815bf6218b5'), nodes: [], token: hex('52a3a795'), values: [{ host: '127.0.0.1', port: 6881 }] },
    });
  });

  it("reads libtorrent's IPv6 response: an 18-byte `ip` and a `nodes6` entry", () => {
    const m = decodeKrpc(hex('64323a697031383a00000000000000000000000000000001b738313a7264323a696432303a5d04aa1680477d28ecd6a65e6b7fdfa83c0ec130353a6e6f646573303a363a6e6f6465733633383a515545524945525f5f5f5f5f5f5f5f5f5f5f5f5f00000000000000000000000000000001b738313a7069343639303465353a746f6b656e343aebb5bd8465313a74323a4736313a76343a4c540208313a79313a7265'));
    expect(m).toMatchObject({
      kind: 'response',
      ip: { host: '::1', port: 46904 },
      response: { nodes: [], nodes6: [{ id: lat('QUERIER_____________'), host: '::1', port: 46904 }], token: hex('ebb5bd84') },
    });
  });

  it("reads libtorrent's answer to a query with a 19-byte id: error 203", () => {
    const m = decodeKrpc(hex('64313a656c693230336532323a696e76616c69642076616c756520666f72202769642765313a74323a6231313a76343a4c540208313a79313a6565'));
    expect(m).toEqual({ kind: 'error', t: lat('b1'), code: KRPC_ERROR.protocol, message: "invalid value for 'id'", version: LT_VERSION });
  });

  // The get_peers answer's one peer is given a documentation address (203.0.113.2) in place of the captured one.
  it("reads Transmission's ping response and its get_peers response (8-byte token, no `v`)", () => {
    const id = hex('a58a1eeca11e7de0fea7a96ae7df8b9016c717ff');
    expect(decodeKrpc(hex('64313a7264323a696432303aa58a1eeca11e7de0fea7a96ae7df8b9016c717ff65313a74323a7031313a79313a7265'))).toEqual({ kind: 'response', t: lat('p1'), response: { id } });
    expect(decodeKrpc(hex('64313a7264323a696432303aa58a1eeca11e7de0fea7a96ae7df8b9016c717ff353a746f6b656e383a17c425da4add1fd0363a76616c7565736c363acb0071021ae16565313a74323a6732313a79313a7265'))).toEqual({
      kind: 'response',
      t: lat('g2'),
      response: { id, token: hex('17c425da4add1fd0'), values: [{ host: '203.0.113.2', port: 6881 }] },
    });
  });
});

const ID = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const TARGET = Uint8Array.from({ length: 20 }, (_, i) => 200 - i);
const node4: CompactNode = { id: ID, host: '203.0.113.7', port: 6881 };
const node6: CompactNode = { id: TARGET, host: '2001:db8::1', port: 51413 };

describe('KRPC: round trips', () => {
  const messages: [string, KrpcMessage][] = [
    ['ping, read-only, with a version', { kind: 'query', t: lat('\x00\x01'), query: { method: 'ping', id: ID }, readOnly: true, version: lat('SB\x00\x01') }],
    ['find_node with want n4 and n6', { kind: 'query', t: AA, query: { method: 'find_node', id: ID, target: TARGET, want: ['n4', 'n6'] } }],
    ['get_peers with want n6', { kind: 'query', t: AA, query: { method: 'get_peers', id: ID, infoHash: TARGET, want: ['n6'] } }],
    ['announce_peer with a port', { kind: 'query', t: AA, query: { method: 'announce_peer', id: ID, infoHash: TARGET, port: 6881, token: lat('tok'), impliedPort: false } }],
    ['announce_peer with implied_port and port 0', { kind: 'query', t: AA, query: { method: 'announce_peer', id: ID, infoHash: TARGET, port: 0, token: lat('t'), impliedPort: true } }],
    ['find_node response with nodes and nodes6', { kind: 'response', t: AA, response: { id: ID, nodes: [node4, { ...node4, host: '10.0.0.1' }], nodes6: [node6] } }],
    [
      'get_peers response with IPv4 and IPv6 values, a token, and BEP 42 ip',
      { kind: 'response', t: AA, ip: { host: '2001:db8::42', port: 0 }, response: { id: ID, token: lat('12345678'), values: [{ host: '1.2.3.4', port: 1 }, { host: '2001:db8::5', port: 65535 }] } },
    ],
    ['empty node lists', { kind: 'response', t: AA, response: { id: ID, nodes: [], nodes6: [], values: [] } }],
    ['method unknown error', { kind: 'error', t: lat('x'.repeat(32)), code: KRPC_ERROR.methodUnknown, message: 'Method Unknown' }],
  ];
  for (const [name, m] of messages) {
    it(name, () => {
      expect(decodeKrpc(encodeKrpc(m))).toEqual(m);
    });
  }

  it('encodes keys sorted, BEP 42 ip and BEP 43 ro at the top level', () => {
    expect(text(encodeKrpc({ kind: 'query', t: AA, query: { method: 'ping', id: ABC }, readOnly: true }))).toBe('d1:ad2:id20:abcdefghij0123456789e1:q4:ping2:roi1e1:t2:aa1:y1:qe');
    expect(text(encodeKrpc({ kind: 'response', t: AA, ip: { host: '1.2.3.4', port: 258 }, response: { id: MNO } }))).toBe('d2:ip6:\x01\x02\x03\x04\x01\x021:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re');
  });

  it('answers copies, not views into the datagram', () => {
    const buf = encodeKrpc({ kind: 'response', t: AA, response: { id: ID, token: lat('tok'), nodes: [node4] } });
    const m = decodeKrpc(buf);
    buf.fill(0);
    expect(m).toEqual({ kind: 'response', t: AA, response: { id: ID, token: lat('tok'), nodes: [node4] } });
    expect(m.t.buffer).not.toBe(buf.buffer);
  });
});

describe('KRPC: what is tolerated', () => {
  const ping = (extra: string, args = '', top = '') => lat(`d1:ad2:id20:abcdefghij0123456789${args}e${top}1:q4:ping1:t2:aa${extra}1:y1:qe`);

  it('ignores unknown keys at every level, and accepts unsorted keys', () => {
    expect(decodeKrpc(ping('', '7:x-extrali1ee', '2:zzd1:ai1ee'))).toEqual({ kind: 'query', t: AA, query: { method: 'ping', id: ABC } });
    expect(decodeKrpc(lat('d1:y1:q1:t2:aa1:q4:ping1:ad2:id20:abcdefghij0123456789ee')).kind).toBe('query');
  });

  it('reads ro as read-only only when it is a non-zero integer', () => {
    expect(decodeKrpc(ping('2:roi1e'))).toMatchObject({ readOnly: true });
    expect(decodeKrpc(ping('2:roi0e'))).not.toHaveProperty('readOnly');
    expect(decodeKrpc(ping('2:ro1:1'))).not.toHaveProperty('readOnly');
  });

  it('ignores a `v` that is not a string, and a BEP 42 `ip` of the wrong length', () => {
    expect(decodeKrpc(ping('1:vi1e'))).not.toHaveProperty('version');
    expect(decodeKrpc(lat('d2:ip5:abcde1:rd2:id20:mnopqrstuvwxyz123456e1:t2:aa1:y1:re'))).not.toHaveProperty('ip');
  });

  it('keeps the whole entries of a node list with a trailing partial entry, as libtorrent does', () => {
    const nodes = Buffer.concat([encodeCompactNodes([node4, node4], 4), Buffer.from('xyz')]);
    const m = decodeKrpc(encodeBencode(new Map<string, unknown>([['r', new Map([['id', ID], ['nodes', nodes]])], ['t', AA], ['y', 'r']]) as never));
    expect(m.kind === 'response' && m.response.nodes).toEqual([node4, node4]);
  });

  it('leaves out nodes and peers that cannot be contacted: port 0, 0.0.0.0, ::, IPv4-mapped in nodes6', () => {
    const v4 = (ip: number[], port: number) => Uint8Array.from([...ID, ...ip, port >> 8, port & 0xff]);
    expect(decodeCompactNodes(Buffer.concat([v4([1, 2, 3, 4], 0), v4([0, 0, 0, 0], 1), v4([1, 2, 3, 4], 1)]), 4)).toEqual([{ id: ID, host: '1.2.3.4', port: 1 }]);
    const mapped = Uint8Array.from([...ID, ...new Array<number>(10).fill(0), 0xff, 0xff, 1, 2, 3, 4, 0, 1]);
    const unspecified = Uint8Array.from([...ID, ...new Array<number>(16).fill(0), 0, 1]);
    expect(decodeCompactNodes(Buffer.concat([mapped, unspecified, encodeCompactNodes([node6], 6)]), 6)).toEqual([node6]);
    const values = decodeKrpc(lat('d1:rd2:id20:mnopqrstuvwxyz1234566:valuesl6:\x01\x02\x03\x04\x00\x006:\x00\x00\x00\x00\x00\x016:\x01\x02\x03\x04\x00\x01ee1:t2:aa1:y1:re'));
    expect(values.kind === 'response' && values.response.values).toEqual([{ host: '1.2.3.4', port: 1 }]);
  });

  it('reads implied_port announces whatever their port says, and any non-zero implied_port', () => {
    const announce = (port: string, implied: string) =>
      decodeKrpc(lat(`d1:ad2:id20:abcdefghij0123456789${implied}9:info_hash20:mnopqrstuvwxyz123456${port}5:token1:xe1:q13:announce_peer1:t2:aa1:y1:qe`));
    expect(announce('4:porti0e', '12:implied_porti1e')).toMatchObject({ query: { port: 0, impliedPort: true } });
    expect(announce('', '12:implied_porti1e')).toMatchObject({ query: { port: 0, impliedPort: true } });
    expect(announce('4:porti-1e', '12:implied_porti7e')).toMatchObject({ query: { port: 0, impliedPort: true } });
    expect(announce('4:porti6881e', '12:implied_porti0e')).toMatchObject({ query: { port: 6881, impliedPort: false } });
  });

  it('ignores unknown `want` entries and repeats', () => {
    const m = decodeKrpc(lat('d1:ad2:id20:abcdefghij01234567896:target20:mnopqrstuvwxyz1234564:wantl2:n62:n92:n62:n4ee1:q9:find_node1:t2:aa1:y1:qe'));
    expect(m.kind === 'query' && m.query).toMatchObject({ want: ['n6', 'n4'] });
  });

  it('reads an error with extra items, and keeps control characters out of its message', () => {
    expect(decodeKrpc(lat('d1:eli202e6:a\nb\x00cdi1ee1:t2:aa1:y1:ee'))).toEqual({ kind: 'error', t: AA, code: 202, message: 'a?b?cd' });
  });
});

describe('KRPC: malformed datagrams', () => {
  const id = 'abcdefghij0123456789';
  const q = (method: string, args: string, extra = '') => lat(`d1:ad2:id20:${id}${args}e1:q${method.length}:${method}1:t2:aa${extra}1:y1:qe`);
  const r = (body: string, top = '') => lat(`d${top}1:rd2:id20:${id}${body}e1:t2:aa1:y1:re`);
  const announce = (rest: string) => q('announce_peer', `9:info_hash20:${id}${rest}`);

  const cases: [string, Uint8Array, string, 'query' | 'response' | 'error' | undefined, boolean][] = [
    // name, datagram, code, the message kind the error names, whether it carries t
    ['a datagram over 64 KiB', new Uint8Array(MAX_KRPC_DATAGRAM + 1), 'krpc-too-large', undefined, false],
    ['truncated bencode', lat('d1:t2:aa1:y1:q'), 'krpc-bencode', undefined, false],
    ['bytes after the dictionary', lat('d1:t2:aa1:y1:qexx'), 'krpc-bencode', undefined, false],
    ['a nesting bomb', lat(`d1:t2:aa1:y1:q1:x${'l'.repeat(100)}${'e'.repeat(100)}e`), 'krpc-bencode', undefined, false],
    ['a list', lat('l1:t2:aae'), 'krpc-not-dict', undefined, false],
    ['an integer', lat('i1e'), 'krpc-not-dict', undefined, false],
    ['no t', lat(`d1:ad2:id20:${id}e1:q4:ping1:y1:qe`), 'krpc-bad-transaction-id', undefined, false],
    ['an empty t', lat(`d1:ad2:id20:${id}e1:q4:ping1:t0:1:y1:qe`), 'krpc-bad-transaction-id', undefined, false],
    ['a 33-byte t', lat(`d1:ad2:id20:${id}e1:q4:ping1:t33:${'t'.repeat(33)}1:y1:qe`), 'krpc-bad-transaction-id', undefined, false],
    ['an integer t', lat(`d1:ad2:id20:${id}e1:q4:ping1:ti1e1:y1:qe`), 'krpc-bad-transaction-id', undefined, false],
    ['no y', lat(`d1:ad2:id20:${id}e1:q4:ping1:t2:aae`), 'krpc-bad-type', undefined, true],
    ["y 'x'", lat(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y1:xe`), 'krpc-bad-type', undefined, true],
    ["y 'qq'", lat(`d1:ad2:id20:${id}e1:q4:ping1:t2:aa1:y2:qqe`), 'krpc-bad-type', undefined, true],
    ['a query without q', lat(`d1:ad2:id20:${id}e1:t2:aa1:y1:qe`), 'krpc-bad-method', 'query', true],
    ['a query with an integer q', lat(`d1:ad2:id20:${id}e1:qi1e1:t2:aa1:y1:qe`), 'krpc-bad-method', 'query', true],
    ['a query without a', lat('d1:q4:ping1:t2:aa1:y1:qe'), 'krpc-bad-arguments', 'query', true],
    ['a query whose a is a list', lat('d1:ali1ee1:q4:ping1:t2:aa1:y1:qe'), 'krpc-bad-arguments', 'query', true],
    ['a query without id', lat('d1:ad1:xi1ee1:q4:ping1:t2:aa1:y1:qe'), 'krpc-bad-id', 'query', true],
    ['a 19-byte id', lat(`d1:ad2:id19:${id.slice(1)}e1:q4:ping1:t2:aa1:y1:qe`), 'krpc-bad-id', 'query', true],
    ['an integer id', lat('d1:ad2:idi1ee1:q4:ping1:t2:aa1:y1:qe'), 'krpc-bad-id', 'query', true],
    ['find_node without target', q('find_node', ''), 'krpc-bad-target', 'query', true],
    ['find_node with a 21-byte target', q('find_node', `6:target21:${id}x`), 'krpc-bad-target', 'query', true],
    ['get_peers without info_hash', q('get_peers', ''), 'krpc-bad-info-hash', 'query', true],
    ['announce_peer with a 10-byte info_hash', q('announce_peer', '9:info_hash10:0123456789'), 'krpc-bad-info-hash', 'query', true],
    ['announce_peer without port', announce('5:token1:x'), 'krpc-bad-port', 'query', true],
    ['announce_peer with port 0', announce('4:porti0e5:token1:x'), 'krpc-bad-port', 'query', true],
    ['announce_peer with port 65536', announce('4:porti65536e5:token1:x'), 'krpc-bad-port', 'query', true],
    ['announce_peer with a string port', announce('4:port4:68815:token1:x'), 'krpc-bad-port', 'query', true],
    ['announce_peer without token', announce('4:porti1e'), 'krpc-bad-token', 'query', true],
    ['announce_peer with an empty token', announce('4:porti1e5:token0:'), 'krpc-bad-token', 'query', true],
    ['announce_peer with a 257-byte token', announce(`4:porti1e5:token257:${'k'.repeat(257)}`), 'krpc-bad-token', 'query', true],
    ['want that is not a list', q('find_node', `6:target20:${id}4:want2:n4`), 'krpc-bad-want', 'query', true],
    ['want holding an integer', q('get_peers', `9:info_hash20:${id}4:wantli4ee`), 'krpc-bad-want', 'query', true],
    ['a response without r', lat('d1:t2:aa1:y1:re'), 'krpc-bad-response', 'response', true],
    ['a response whose r is a string', lat('d1:r2:id1:t2:aa1:y1:re'), 'krpc-bad-response', 'response', true],
    ['a response with a 21-byte id', lat(`d1:rd2:id21:${id}xe1:t2:aa1:y1:re`), 'krpc-bad-id', 'response', true],
    ['nodes that are an integer', r('5:nodesi1e'), 'krpc-bad-nodes', 'response', true],
    ['nodes6 that are a list', r('6:nodes6le'), 'krpc-bad-nodes', 'response', true],
    ['values that are a string', r('6:values6:abcdef'), 'krpc-bad-values', 'response', true],
    ['a 7-byte value', r('6:valuesl7:abcdefge'), 'krpc-bad-values', 'response', true],
    ['an integer value', r('6:valuesli1ee'), 'krpc-bad-values', 'response', true],
    ['1001 values', r(`6:valuesl${'6:abcdef'.repeat(MAX_KRPC_VALUES + 1)}e`), 'krpc-too-many-values', 'response', true],
    ['an empty response token', r('5:token0:'), 'krpc-bad-token', 'response', true],
    ['an error without e', lat('d1:t2:aa1:y1:ee'), 'krpc-bad-error', 'error', true],
    ['an error whose e is a string', lat('d1:e5:oops!1:t2:aa1:y1:ee'), 'krpc-bad-error', 'error', true],
    ['an error with a code only', lat('d1:eli201ee1:t2:aa1:y1:ee'), 'krpc-bad-error', 'error', true],
    ['an error [message, code]', lat('d1:el4:oopsi201ee1:t2:aa1:y1:ee'), 'krpc-bad-error', 'error', true],
  ];

  for (const [name, datagram, code, kind, hasT] of cases) {
    it(`${name}: ${code}`, () => {
      const err = errorOf(() => decodeKrpc(datagram));
      expect(err.code).toBe(code);
      expect(err.messageKind).toBe(kind);
      if (hasT) expect(err.t).toEqual(AA);
      else expect(err.t).toBeUndefined();
      expect(err.answerable).toBe(hasT && kind === 'query');
      if (err.answerable) expect(err.krpcCode).toBe(KRPC_ERROR.protocol);
    });
  }

  it('gives the BencodeError as the cause', () => {
    expect(errorOf(() => decodeKrpc(lat('d1:t'))).cause).toBeInstanceOf(BencodeError);
  });

  it('an unknown method is a krpc-unknown-method the node answers with 204, even without arguments', () => {
    for (const datagram of [q('vote', `6:target20:${id}4:votei1e`), lat('d1:q3:put1:t2:aa1:y1:qe'), lat('d1:ad1:vlllleeeee1:q3:get1:t2:aa1:y1:qe')]) {
      const err = errorOf(() => decodeKrpc(datagram));
      expect(err.code).toBe('krpc-unknown-method');
      expect(err.t).toEqual(AA);
      expect(err.answerable).toBe(true);
      expect(err.krpcCode).toBe(KRPC_ERROR.methodUnknown);
    }
    expect(errorOf(() => decodeKrpc(q('vote', ''))).method).toBe('vote');
    // The name goes to logs: control characters replaced, length capped.
    expect(errorOf(() => decodeKrpc(q(`a\nb${'x'.repeat(100)}`, ''))).method).toBe(`a?b${'x'.repeat(61)}`);
  });

  it('the error reply to a malformed query round-trips with its transaction id', () => {
    const err = errorOf(() => decodeKrpc(q('vote', '')));
    const reply = encodeKrpc({ kind: 'error', t: err.t!, code: err.krpcCode, message: 'Method Unknown' });
    expect(text(reply)).toBe('d1:eli204e14:Method Unknowne1:t2:aa1:y1:ee');
  });
});

describe('KRPC: the encoder refuses what the peer would refuse', () => {
  const ping = (over: Partial<{ t: Uint8Array; id: Uint8Array }>): KrpcMessage => ({ kind: 'query', t: over.t ?? AA, query: { method: 'ping', id: over.id ?? ID } });
  const response = (r: Omit<KrpcResponse, 'id'>): KrpcMessage => ({ kind: 'response', t: AA, response: { id: ID, ...r } });
  const cases: [string, () => unknown][] = [
    ['a 19-byte id', () => encodeKrpc(ping({ id: new Uint8Array(19) }))],
    ['an empty t', () => encodeKrpc(ping({ t: new Uint8Array(0) }))],
    ['a 33-byte t', () => encodeKrpc(ping({ t: new Uint8Array(33) }))],
    ['port 0 without implied_port', () => encodeKrpc({ kind: 'query', t: AA, query: { method: 'announce_peer', id: ID, infoHash: ID, port: 0, token: AA, impliedPort: false } })],
    ['an empty token', () => encodeKrpc({ kind: 'query', t: AA, query: { method: 'announce_peer', id: ID, infoHash: ID, port: 1, token: new Uint8Array(0), impliedPort: false } })],
    ['a want of n5', () => encodeKrpc({ kind: 'query', t: AA, query: { method: 'find_node', id: ID, target: ID, want: ['n5' as 'n4'] } })],
    ['an unknown method', () => encodeKrpc({ kind: 'query', t: AA, query: { method: 'vote', id: ID } as never })],
    ['a DNS name as a value', () => encodeKrpc(response({ values: [{ host: 'example.com', port: 1 }] }))],
    ['a value with port 0', () => encodeKrpc(response({ values: [{ host: '1.2.3.4', port: 0 }] }))],
    [`${MAX_KRPC_VALUES + 1} values`, () => encodeKrpc(response({ values: new Array(MAX_KRPC_VALUES + 1).fill({ host: '1.2.3.4', port: 1 }) }))],
    ['an IPv6 node in nodes', () => encodeKrpc(response({ nodes: [node6] }))],
    ['an IPv4 node in nodes6', () => encodeKrpc(response({ nodes6: [node4] }))],
    ['an IPv4-mapped node in nodes6', () => encodeCompactNodes([{ ...node6, host: '::ffff:1.2.3.4' }], 6)],
    ['a node with port 0', () => encodeCompactNodes([{ ...node4, port: 0 }], 4)],
    ['a node with a short id', () => encodeCompactNodes([{ ...node4, id: new Uint8Array(NODE_ID_LENGTH - 1) }], 4)],
    ['a datagram over 64 KiB', () => encodeKrpc(response({ nodes: new Array(3000).fill(node4) }))],
    ['an error code that is not an integer', () => encodeKrpc({ kind: 'error', t: AA, code: 201.5, message: '' })],
  ];
  for (const [name, f] of cases) {
    it(name, () => {
      expect(codeOf(f)).toBe('krpc-bad-field');
    });
  }
});

describe('compact node lists', () => {
  it('are 26 bytes per IPv4 node and 38 per IPv6 node, id first', () => {
    const v4 = encodeCompactNodes([node4], 4);
    expect(v4.length).toBe(26);
    expect([...v4.subarray(20)]).toEqual([203, 0, 113, 7, 0x1a, 0xe1]);
    const v6 = encodeCompactNodes([node6, node6], 6);
    expect(v6.length).toBe(76);
    expect(decodeCompactNodes(v6, 6)).toEqual([node6, node6]);
    expect(decodeCompactNodes(new Uint8Array(25), 4)).toEqual([]);
  });
});
