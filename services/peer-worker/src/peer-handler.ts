import type { Socket } from 'node:net';
import type { Bitfield, CryptoMethod, Handshake, PeerAddress, PexMessage, UtMetadataMessage } from '@seedbox/protocol';
import type { SessionBandwidth } from './bandwidth/bandwidth.js';
import type { BlockRef } from './block-key.js';
import type { IncomingOpening } from './encryption/incoming-handshake.js';
import type { BlockAnswer } from './outgoing-requests.js';
import type { CloseReason, ConnectionTimeouts, PeerCipher } from './peer-connection.js';
import type { QualityRules } from './peer-quality.js';
import type { PeerSession } from './peer-session.js';
import type { PipelineOptions } from './request-pipeline.js';

/**
 * The two faces a PeerSession shows its owner: what it reads of the
 * torrent (SessionContext) and what it tells it (PeerHandler).
 */

export interface SessionTimeouts extends ConnectionTimeouts, QualityRules {
  /** An unanswered request is given up (its block freed for other peers) after this, ms; the peer is then snubbed. */
  request: number;
}

/** The quality rules' (`choked`, `snubbed`) are explained in peer-quality.ts. */
export const DEFAULT_TIMEOUTS: SessionTimeouts = {
  connect: 10_000,
  handshake: 10_000,
  idle: 180_000,
  request: 20_000,
  keepAlive: 90_000,
  choked: 120_000,
  snubbed: 60_000,
};

/** A ut_metadata message the owner handles: the answers to our requests. */
export type MetadataAnswer = Extract<UtMetadataMessage, { type: 'data' | 'reject' }>;

/** Why the session itself refused a request of the peer's, before its owner saw it. */
export type SessionRefusal = 'choked' | 'over-queue';

/** What a session reads of its torrent; none of it changes during a call. */
export interface SessionContext {
  readonly infoHash: Uint8Array;
  readonly localPeerId: Uint8Array;
  /** Our listen port, for the extended handshake. */
  readonly listenPort: number | undefined;
  /**
   * Pieces in the torrent; undefined while the metadata is unknown (a
   * magnet link's metadata fetch). The session then ignores the peer's
   * BITFIELD and HAVEs, whose size it cannot check, and has nothing to offer.
   */
  readonly pieceCount: number | undefined;
  /** Pieces we have, for our BITFIELD (unused while pieceCount is undefined). */
  readonly have: Bitfield;
  /** BEP 9: the info dictionary we give peers that ask; undefined when we have none to give. */
  readonly metadata: Uint8Array | undefined;
  /** Offer and take peer exchange (BEP 11); false or absent for a private torrent (BEP 27) and a metadata fetch. */
  readonly pex?: boolean;
  /** The length of the block at (index, begin): the torrent knows its geometry. */
  blockLength(index: number, begin: number): number;
}

/**
 * What a session tells its owner. Only `admit` and `sessionClosed` are
 * required: a metadata fetch, which has no pieces, leaves the rest out,
 * and the session then does the safe thing (a peer's block request is
 * rejected, its blocks are ignored).
 */
export interface PeerHandler {
  /** The handshake passed the session's own checks; the owner may still refuse (self, duplicate, cap). */
  admit(session: PeerSession): CloseReason | undefined;
  /** The session ended; called exactly once, for every session that was started. */
  sessionClosed(session: PeerSession, reason: CloseReason, error: Error | undefined): void;
  /** The peer's pieces changed: one HAVE (`index`), or its opening BITFIELD, HAVE_ALL or HAVE_NONE. */
  peerPiecesChanged?(session: PeerSession, index?: number): void;
  /** The pipeline has room: request more blocks through `session.request`. */
  fillRequests?(session: PeerSession): void;
  /**
   * A block arrived, answering a request still outstanding, one given up
   * on (`late`: timed out, cancelled, lost to a choke), or none at all
   * (`unrequested`: wasted; the session drops the peer past an allowance).
   */
  blockReceived?(session: PeerSession, index: number, begin: number, data: Uint8Array, answer: BlockAnswer): void;
  /** Requests that will not be answered any more (choke, reject, timeout, close). */
  requestsDropped?(session: PeerSession, blocks: readonly BlockRef[]): void;
  /** A peer asked us for a block; it is queued in the session. Without this handler the request is rejected. */
  blockRequested?(session: PeerSession, index: number, begin: number, length: number): void;
  /** The session refused a request itself (the peer is choked, or over the queue we advertised). */
  requestRefused?(session: PeerSession, reason: SessionRefusal): void;
  /** The peer became interested or lost interest. */
  peerInterestChanged?(session: PeerSession): void;
  /** The socket's send buffer drained: more blocks may be served. */
  sessionDrained?(session: PeerSession): void;
  /** The peer's BEP 10 handshake arrived: its extensions and metadata_size are known. */
  extensionsChanged?(session: PeerSession): void;
  /** A ut_metadata data or reject message; `data` is a view into a reused read buffer. */
  metadataAnswer?(session: PeerSession, answer: MetadataAnswer): void;
  /** A ut_pex message (BEP 11), decoded; only when the context offers pex. */
  pexReceived?(session: PeerSession, message: PexMessage): void;
}

/** A peer's request queued with us. */
export interface IncomingRequest extends BlockRef {
  length: number;
}

export interface SessionOptions {
  socket: Socket;
  context: SessionContext;
  handler: PeerHandler;
  direction: 'outgoing' | 'incoming';
  peer: PeerAddress;
  /** For an incoming session the listener already read the peer's handshake, and these bytes followed it... */
  handshake?: Handshake | undefined;
  leftover?: Uint8Array | undefined;
  /** ...over this cipher, if it negotiated RC4, after the encrypted handshake if that was how it opened. */
  cipher?: PeerCipher | undefined;
  encryptedHandshake?: boolean | undefined;
  /** Outgoing: open with the encrypted handshake (MSE), offering these methods; absent: plain. */
  encrypt?: readonly CryptoMethod[] | undefined;
  timeouts?: Partial<SessionTimeouts> | undefined;
  pipeline?: PipelineOptions | undefined;
  /** Turn on BEP 6 / BEP 10 in our handshake. */
  fast?: boolean;
  extended?: boolean;
  clientName?: string;
  /** The speed limits the session's traffic passes (its torrent's and the engine's); none: unshaped. */
  bandwidth?: SessionBandwidth | undefined;
  now?: () => number;
}

/** How a session's connection opens: accepted by the listener, or dialled by us (encrypted or not). */
export type SessionOpening =
  | { direction: 'incoming'; opening: IncomingOpening }
  | { direction: 'outgoing'; encrypt: readonly CryptoMethod[] | undefined };

/** The SessionOptions fields an opening sets. */
export function openingOptions(how: SessionOpening): Pick<SessionOptions, 'direction' | 'handshake' | 'leftover' | 'cipher' | 'encryptedHandshake' | 'encrypt'> {
  if (how.direction === 'outgoing') return { direction: 'outgoing', encrypt: how.encrypt };
  const { handshake, leftover, cipher, encrypted } = how.opening;
  return { direction: 'incoming', handshake, leftover, cipher, encryptedHandshake: encrypted };
}
