import {
  decodeExtendedHandshake,
  decodeUtMetadata,
  encodeExtendedHandshake,
  encodeUtMetadata,
  encodePex,
  metadataPiece,
  metadataPieceCount,
  UT_METADATA,
  UT_PEX,
  type Message,
  type PexMessage,
} from '@seedbox/protocol';
import type { MetadataAnswer } from './peer-handler.js';

/**
 * One peer's BEP 10 extension handshake and the BEP 9 info-dictionary
 * exchange over it: what the peer offers (its extension ids, its client,
 * its `reqq`, its `metadata_size`), the pieces of our info dictionary we
 * give it, and our requests of its. The session hands it the extended
 * messages and sends what it answers.
 */

/** The id we want ut_metadata messages under (BEP 10 ids are the receiver's choice); 2 is libtorrent's too. */
export const LOCAL_UT_METADATA_ID = 2;
/** The id we want ut_pex messages under (BEP 11); 1 is libtorrent's too. */
export const LOCAL_UT_PEX_ID = 1;

export interface ExtendedHello {
  clientName: string;
  /** The request queue we advertise (`reqq`). */
  requestQueue: number;
  listenPort: number | undefined;
  /** Our info dictionary, when we have one to give. */
  metadata: Uint8Array | undefined;
  /** Offer ut_pex (BEP 11): never for a private torrent (BEP 27). */
  pex?: boolean | undefined;
}

/** What others read of the exchange. */
export interface PeerExtensions {
  readonly remoteClient: string | undefined;
  readonly peerExtensions: ReadonlyMap<string, number>;
  readonly peerMetadataSize: number | undefined;
  /** The peer's listen port (`p`), when it sent one: where an incoming peer can be dialled. */
  readonly peerListenPort: number | undefined;
  readonly served: number;
  readonly rejected: number;
  readonly hasMetadataToGive: boolean;
}

export class MetadataExchange implements PeerExtensions {
  /** The peer's extended handshake `v`, when sent. */
  remoteClient: string | undefined;
  /** The peer's BEP 10 extensions: name → the id it wants their messages under. */
  peerExtensions: ReadonlyMap<string, number> = new Map();
  /** The size of the info dictionary the peer can give us (BEP 9 `metadata_size`), when it advertised one. */
  peerMetadataSize: number | undefined;
  peerListenPort: number | undefined;
  /** The peer's `reqq`, when it sent one. */
  peerRequestQueue: number | undefined;
  /** ut_metadata requests from the peer that we answered with data, and with a reject. */
  served = 0;
  rejected = 0;

  constructor(private readonly send: (m: Message) => void) {}

  /** Our extended handshake. ut_metadata is offered even without metadata to give: a peer may then ask and be rejected (BEP 9), and a metadata fetch needs it to be answered. */
  sendHello(h: ExtendedHello): void {
    const payload = encodeExtendedHandshake({
      m: new Map([[UT_METADATA, LOCAL_UT_METADATA_ID], ...(h.pex ? ([[UT_PEX, LOCAL_UT_PEX_ID]] as const) : [])]),
      clientName: h.clientName,
      requestQueue: h.requestQueue,
      ...(h.listenPort !== undefined ? { listenPort: h.listenPort } : {}),
      ...(h.metadata ? { metadataSize: h.metadata.length } : {}),
    });
    this.send({ type: 'extended', extendedId: 0, payload });
  }

  /** The peer's extended handshake. A later one replaces the map: clients send it whole. */
  onHello(payload: Uint8Array): void {
    const ext = decodeExtendedHandshake(payload);
    this.remoteClient = ext.clientName;
    if (ext.requestQueue !== undefined) this.peerRequestQueue = ext.requestQueue;
    if (ext.listenPort !== undefined) this.peerListenPort = ext.listenPort;
    this.peerExtensions = ext.m;
    if (ext.metadataSize !== undefined) this.peerMetadataSize = ext.metadataSize;
  }

  /**
   * A ut_metadata message: a request is answered here (with `ours`, when
   * `canSend`), data and rejects are answers for the owner. A malformed
   * message throws a UtMetadataError: a protocol error that closes the session.
   */
  onMessage(payload: Uint8Array, ours: Uint8Array | undefined, canSend: boolean): MetadataAnswer | undefined {
    const msg = decodeUtMetadata(payload);
    switch (msg.type) {
      case 'request':
        this.answer(msg.piece, ours, canSend);
        return undefined;
      case 'data':
      case 'reject':
        return msg;
      case 'unknown':
        return undefined; // BEP 9: ignored, for future message types
    }
  }

  /**
   * Serves one piece of the info dictionary, or rejects: when we have no
   * metadata to give, the piece is past its end, or the socket is backed
   * up (a peer asking faster than it reads is not buffered without bound).
   */
  private answer(piece: number, metadata: Uint8Array | undefined, canSend: boolean): void {
    const id = this.peerExtensions.get(UT_METADATA);
    // It never said which id it reads ut_metadata under: there is no way to answer.
    if (id === undefined) return;
    if (!metadata || piece >= metadataPieceCount(metadata.length) || !canSend) {
      this.rejected++;
      this.send({ type: 'extended', extendedId: id, payload: encodeUtMetadata({ type: 'reject', piece }) });
      return;
    }
    this.served++;
    this.send({ type: 'extended', extendedId: id, payload: encodeUtMetadata({ type: 'data', piece, totalSize: metadata.length, data: metadataPiece(metadata, piece) }) });
  }

  /** Whether the peer offered ut_metadata and has metadata to give (BEP 9). */
  get hasMetadataToGive(): boolean {
    return this.peerExtensions.has(UT_METADATA) && this.peerMetadataSize !== undefined;
  }

  /** Asks the peer for one piece of its info dictionary; false when it does not speak ut_metadata. */
  request(piece: number): boolean {
    const id = this.peerExtensions.get(UT_METADATA);
    if (id === undefined) return false;
    this.send({ type: 'extended', extendedId: id, payload: encodeUtMetadata({ type: 'request', piece }) });
    return true;
  }

  /** Sends a ut_pex message (BEP 11); false when the peer does not speak ut_pex. */
  sendPex(m: PexMessage): boolean {
    const id = this.peerExtensions.get(UT_PEX);
    if (id === undefined) return false;
    this.send({ type: 'extended', extendedId: id, payload: encodePex(m) });
    return true;
  }
}
