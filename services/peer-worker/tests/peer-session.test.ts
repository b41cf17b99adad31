import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import {
  Bitfield,
  decodeExtendedHandshake,
  decodeMessage,
  decodeUtMetadata,
  encodeExtendedHandshake,
  encodeHandshake,
  encodeMessage,
  encodeUtMetadata,
  type Message,
} from '@seedbox/protocol';
import { LOCAL_UT_METADATA_ID, PeerSession, type CloseReason, type PeerHandler, type SessionContext } from '../src/peer-session.js';

/** The test plays both the torrent's context and its handler. */
type SessionOwner = SessionContext & PeerHandler;

function startSession(socket: unknown, owner: SessionOwner): PeerSession {
  const session = new PeerSession({ socket: socket as Socket, context: owner, handler: owner, direction: 'outgoing', peer: { host: 'x', port: 1 } });
  session.start();
  return session;
}

/** Just enough of a net.Socket for a session: it records what is written. */
class FakeSocket extends EventEmitter {
  connecting = false;
  writableLength = 0;
  written: Buffer[] = [];
  setNoDelay(): this {
    return this;
  }
  write(b: Uint8Array): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  cork(): void {}
  uncork(): void {}
  destroy(): this {
    return this;
  }
}

const PIECES = 40;
const infoHash = new Uint8Array(20).fill(7);

function makeOwner() {
  const blocks: string[] = [];
  const closed: { reason: CloseReason; error?: Error }[] = [];
  const haves: number[] = [];
  const owner: SessionOwner = {
    infoHash,
    localPeerId: new Uint8Array(20).fill(1),
    pieceCount: PIECES,
    have: new Bitfield(PIECES),
    listenPort: undefined,
    metadata: undefined,
    blockLength: () => 16384,
    admit: () => undefined,
    peerPiecesChanged: (_s, index) => {
      if (index !== undefined) haves.push(index);
    },
    fillRequests: () => undefined,
    blockReceived: (_s, index, begin, data) => blocks.push(`${index}:${begin}:${Buffer.from(data).toString('hex')}`),
    requestsDropped: () => undefined,
    blockRequested: () => undefined,
    peerInterestChanged: () => undefined,
    sessionDrained: () => undefined,
    sessionClosed: (_s, reason, error) => closed.push(error ? { reason, error } : { reason }),
  };
  return { owner, blocks, closed, haves };
}

function stream(blockLengths: number[]): { bytes: Buffer; expected: string[] } {
  const parts: Buffer[] = [encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(2), fast: true, extended: false })];
  const msgs: Message[] = [{ type: 'have-all' }, { type: 'unchoke' }];
  const expected: string[] = [];
  blockLengths.forEach((len, i) => {
    const block = Buffer.alloc(len, (i * 37) & 0xff);
    msgs.push({ type: 'piece', index: i % PIECES, begin: 16384 * (i % 3), block });
    expected.push(`${i % PIECES}:${16384 * (i % 3)}:${block.toString('hex')}`);
    if (i % 5 === 0) msgs.push({ type: 'keep-alive' });
  });
  for (const m of msgs) parts.push(encodeMessage(m));
  return { bytes: Buffer.concat(parts), expected };
}

describe('PeerSession framing', () => {
  it('decodes a stream cut anywhere, read through one reused buffer', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 16384 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 50 }),
        (lengths, cuts) => {
          const { bytes, expected } = stream(lengths);
          const { owner, blocks, closed } = makeOwner();
          const socket = new FakeSocket();
          const session = startSession(socket, owner);
          // Like net.connect's onread: every read lands in the same buffer,
          // which is overwritten before the next one.
          const reused = Buffer.alloc(5000);
          let at = 0;
          let c = 0;
          while (at < bytes.length) {
            const n = Math.min(cuts[c++ % cuts.length]!, bytes.length - at);
            bytes.copy(reused, 0, at, at + n);
            session.onData(reused.subarray(0, n));
            reused.fill(0xee);
            at += n;
          }
          expect(closed).toEqual([]);
          expect(blocks).toEqual(expected);
          session.close('shutdown');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('splits a length prefix across reads (regression: it used to desync)', () => {
    const { bytes, expected } = stream([16384, 16384, 100]);
    const { owner, blocks, closed } = makeOwner();
    const session = startSession(new FakeSocket(), owner);
    // Cut 2 bytes into the second piece message's length prefix.
    const firstPiece = 68 + 5 + 5; // handshake, have-all, unchoke
    const cut = firstPiece + 4 + 9 + 16384 + 2;
    session.onData(bytes.subarray(0, cut));
    session.onData(bytes.subarray(cut, cut + 3));
    session.onData(bytes.subarray(cut + 3));
    expect(closed).toEqual([]);
    expect(blocks).toEqual(expected);
  });

  it('closes on a protocol violation, counted by reason', () => {
    const { owner, closed } = makeOwner();
    const session = startSession(new FakeSocket(), owner);
    session.onData(encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(2) }));
    // HAVE_ALL without the Fast extension negotiated.
    session.onData(encodeMessage({ type: 'have-all' }));
    expect(closed.map((c) => c.reason)).toEqual(['protocol-error']);
  });

  it('drops a handshake for another torrent', () => {
    const { owner, closed } = makeOwner();
    const session = startSession(new FakeSocket(), owner);
    session.onData(encodeHandshake({ infoHash: new Uint8Array(20).fill(9), peerId: new Uint8Array(20).fill(2) }));
    expect(closed.map((c) => c.reason)).toEqual(['wrong-info-hash']);
  });
});

describe('PeerSession bitfields', () => {
  it("takes aria2's late BITFIELD after HAVE_NONE as a list of HAVEs", () => {
    const { owner, closed, haves } = makeOwner();
    const session = startSession(new FakeSocket(), owner);
    session.onData(encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(2), fast: true }));
    session.onData(encodeMessage({ type: 'have-none' }));
    session.onData(encodeMessage({ type: 'have', index: 3 }));
    const bits = new Bitfield(PIECES);
    bits.set(3);
    bits.set(7);
    session.onData(encodeMessage({ type: 'bitfield', bits: bits.toBytes() }));
    expect(closed).toEqual([]);
    // 3 was announced already; only 7 is new.
    expect(haves).toEqual([3, 7]);
    expect(session.peerPieces.has(7)).toBe(true);
  });
});

describe('PeerSession HAVEs', () => {
  /** Every message in one write. */
  const messagesOf = (b: Buffer): Message[] => {
    const out: Message[] = [];
    for (let at = 0; at < b.length; ) {
      const r = decodeMessage(b.subarray(at), { maxBitfieldLength: 5 });
      if (r.kind !== 'ok') throw new Error('a partial message in a write');
      out.push(r.value);
      at += r.used;
    }
    return out;
  };
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

  it("go out with the turn's requests in one corked write, or alone at the turn's end, never after a close", async () => {
    const { owner } = makeOwner();
    const socket = new FakeSocket();
    const session = startSession(socket, owner);
    session.onData(encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(2), fast: true }));
    socket.written.length = 0;

    session.sendHave(1);
    session.sendHave(2);
    expect(socket.written).toEqual([]);
    session.request(5, 0);
    session.flush();
    expect(socket.written.map(messagesOf)).toEqual([
      [
        { type: 'have', index: 1 },
        { type: 'have', index: 2 },
      ],
      [{ type: 'request', index: 5, begin: 0, length: 16384 }],
    ]);
    await turn();
    expect(socket.written).toHaveLength(2); // nothing left for the turn's end

    socket.written.length = 0;
    session.sendHave(3);
    session.sendHave(4);
    await turn();
    expect(socket.written.map(messagesOf)).toEqual([
      [
        { type: 'have', index: 3 },
        { type: 'have', index: 4 },
      ],
    ]);

    socket.written.length = 0;
    session.sendHave(6);
    session.close('shutdown');
    await turn();
    expect(socket.written.flatMap(messagesOf).filter((m) => m.type === 'have')).toEqual([]);
  });
});

describe('PeerSession requests from the peer', () => {
  function openedFast(owner: SessionOwner) {
    const socket = new FakeSocket();
    const session = startSession(socket, owner);
    session.onData(encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(2), fast: true }));
    socket.written.length = 0;
    return { socket, session };
  }
  const sent = (socket: FakeSocket): Message[] =>
    socket.written.flatMap((b) => {
      const r = decodeMessage(b, { maxBitfieldLength: 5 });
      return r.kind === 'ok' ? [r.value] : [];
    });

  it('refuses a request while the peer is choked: a REJECT (BEP 6), counted as choked, never seen by the owner as a request', () => {
    const { owner } = makeOwner();
    const refused: string[] = [];
    const requested: number[] = [];
    const { socket, session } = openedFast({ ...owner, requestRefused: (_s, r) => refused.push(r), blockRequested: (_s, i) => requested.push(i) });
    session.onData(encodeMessage({ type: 'request', index: 1, begin: 0, length: 16384 }));
    expect(refused).toEqual(['choked']);
    expect(requested).toEqual([]);
    expect(sent(socket)).toContainEqual({ type: 'reject', index: 1, begin: 0, length: 16384 });
  });

  it('refuses requests over the queue it advertised (reqq 500) once unchoked, and takes a duplicate once', () => {
    const { owner } = makeOwner();
    const refused: string[] = [];
    const requested: string[] = [];
    const { session } = openedFast({ ...owner, requestRefused: (_s, r) => refused.push(r), blockRequested: (_s, i, b) => requested.push(`${i}:${b}`) });
    session.setChoking(false);
    session.onData(encodeMessage({ type: 'request', index: 0, begin: 0, length: 16384 }));
    session.onData(encodeMessage({ type: 'request', index: 0, begin: 0, length: 16384 }));
    expect(requested).toEqual(['0:0']);
    for (let i = 1; i < 500; i++) session.onData(encodeMessage({ type: 'request', index: i % PIECES, begin: 16384 * Math.floor(i / PIECES), length: 16384 }));
    expect(refused).toEqual([]);
    session.onData(encodeMessage({ type: 'request', index: 39, begin: 16384 * 40, length: 16384 }));
    expect(refused).toEqual(['over-queue']);
    expect(session.pendingIncoming).toBe(500);
  });
});

describe('PeerSession ut_metadata (BEP 9)', () => {
  const utId = 9; // the id the remote peer wants ut_metadata under
  const metadata = Buffer.alloc(16384 + 100, 0x5a);

  /** An opened session whose peer sent an extended handshake offering ut_metadata. */
  function open(owner: SessionOwner) {
    const socket = new FakeSocket();
    const session = startSession(socket, owner);
    session.onData(encodeHandshake({ infoHash, peerId: new Uint8Array(20).fill(2), fast: true, extended: true }));
    const ext = encodeExtendedHandshake({ m: new Map([['ut_metadata', utId]]), metadataSize: 1234 });
    session.onData(encodeMessage({ type: 'extended', extendedId: 0, payload: ext }));
    return { socket, session };
  }

  /** Every message written after our handshake (each write is one whole message here). */
  function written(socket: FakeSocket): Message[] {
    return socket.written.slice(1).map((b) => {
      const r = decodeMessage(b);
      if (r.kind !== 'ok' || r.used !== b.length) throw new Error('a write that is not one message');
      return r.value;
    });
  }

  /** The ut_metadata messages written to the socket, decoded. */
  function sent(socket: FakeSocket) {
    return written(socket)
      .filter((m): m is Extract<Message, { type: 'extended' }> => m.type === 'extended' && m.extendedId === utId)
      .map((m) => decodeUtMetadata(m.payload));
  }

  it('offers ut_metadata and metadata_size, and serves the pieces asked for', () => {
    const { owner } = makeOwner();
    const { socket, session } = open({ ...owner, metadata });
    const ours = written(socket).find((m) => m.type === 'extended' && m.extendedId === 0) as Extract<Message, { type: 'extended' }>;
    const hs = decodeExtendedHandshake(ours.payload);
    expect(hs.m.get('ut_metadata')).toBe(LOCAL_UT_METADATA_ID);
    expect(hs.metadataSize).toBe(metadata.length);
    expect(session.extensions.peerExtensions.get('ut_metadata')).toBe(utId);
    expect(session.extensions.peerMetadataSize).toBe(1234);

    for (const piece of [1, 0, 2]) {
      session.onData(encodeMessage({ type: 'extended', extendedId: LOCAL_UT_METADATA_ID, payload: encodeUtMetadata({ type: 'request', piece }) }));
    }
    const answers = sent(socket);
    expect(answers.map((a) => a.type)).toEqual(['data', 'data', 'reject']); // piece 2 is past the end
    expect(answers[0]).toMatchObject({ piece: 1, totalSize: metadata.length });
    expect(Buffer.from((answers[0] as { data: Uint8Array }).data).equals(metadata.subarray(16384))).toBe(true);
    expect([session.extensions.served, session.extensions.rejected]).toEqual([2, 1]);
  });

  it('rejects every request when it has no metadata to give, and passes answers to its owner', () => {
    const { owner, closed } = makeOwner();
    const answers: unknown[] = [];
    const { socket, session } = open({ ...owner, metadataAnswer: (_s, a) => answers.push({ ...a }) });
    session.onData(encodeMessage({ type: 'extended', extendedId: LOCAL_UT_METADATA_ID, payload: encodeUtMetadata({ type: 'request', piece: 0 }) }));
    expect(sent(socket).map((a) => a.type)).toEqual(['reject']);
    session.onData(encodeMessage({ type: 'extended', extendedId: LOCAL_UT_METADATA_ID, payload: encodeUtMetadata({ type: 'reject', piece: 3 }) }));
    expect(answers).toEqual([{ type: 'reject', piece: 3 }]);
    expect(session.requestMetadataPiece(4)).toBe(true);
    expect(sent(socket).at(-1)).toEqual({ type: 'request', piece: 4 });
    expect(closed).toEqual([]);
  });

  it('closes on a malformed ut_metadata message, counted as a protocol error', () => {
    const { owner, closed } = makeOwner();
    const { session } = open(owner);
    session.onData(encodeMessage({ type: 'extended', extendedId: LOCAL_UT_METADATA_ID, payload: Buffer.from('d5:piecei0ee') }));
    expect(closed.map((c) => c.reason)).toEqual(['protocol-error']);
    expect((closed[0]!.error as { code?: string }).code).toBe('UT_METADATA_BAD_MSG_TYPE');
  });

  it('without metadata (pieceCount undefined), ignores bitfields it cannot size and says HAVE_NONE', () => {
    const { owner, closed } = makeOwner();
    const { socket, session } = open({ ...owner, pieceCount: undefined });
    session.onData(encodeMessage({ type: 'bitfield', bits: new Uint8Array(1000).fill(0xff) }));
    session.onData(encodeMessage({ type: 'have', index: 123456 }));
    session.onData(encodeMessage({ type: 'have-all' }));
    expect(closed).toEqual([]);
    const types = written(socket).map((m) => m.type);
    expect(types).toContain('have-none');
    expect(types).not.toContain('bitfield');
  });
});
