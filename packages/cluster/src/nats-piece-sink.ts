import { setMaxListeners } from 'node:events';
import { LeanNatsError, type LeanMsg, type LeanNatsConnection } from './lean-nats/lean-nats-connection.js';
import { pieceBuffers } from '@seedbox/runtime';
import type { PieceSink, PieceWrite, PieceWriteOutcome } from './piece-sink.js';
import { PieceWriteResult, PieceWriteStatus } from '@seedbox/proto';
import { toOutcome } from './piece-write-result.js';
import { PieceDataLinkError, type PieceDataLinks } from './piece-data-links.js';
import { H_CONTINUE, H_DIRECT, H_INCOMPLETE, H_INFO_HASH, H_LENGTH, H_OFFSET, H_PIECE, H_WRITE_ID, PIECE_OFFER } from './subjects.js';

/**
 * The piece path over NATS: the second transport of `PieceSink`.
 *
 * A piece goes out as an *offer* to the `disk-writers` queue group, so one
 * writer of any number takes it, carrying as much of the piece as fits in
 * one message (the server's `max_payload`: 1 MB by default, 8MB in the
 * chart). A piece that fits is answered right there. A larger one is
 * answered with the writer's own chunk subject, where the rest follows in
 * order on the same connection (NATS keeps one publisher's order to one
 * subscriber); the last chunk is a request, answered once the piece is
 * verified and written.
 *
 * With `direct` (SEEDBOX_PIECE_DATA=direct) the offer carries no bytes: a
 * writer with the direct data path answers with its address, the bytes go
 * over TCP (piece-data-links.ts), and a request on its chunk subject
 * (`Seedbox-Direct: sent`) is answered once they are in and written. A
 * writer without it, or one that cannot be reached, gets the piece inline.
 *
 * The worker keeps the piece until a writer's answer arrives. Anything short
 * of an answer (no writer, a timeout, a writer that died in the middle, a
 * chunk lost in a NATS restart) sends the whole piece again, under a new
 * write id, to whichever writer takes it; writes are positional and of
 * verified data, so a piece written twice is the same bytes in the same
 * place. An io-error answer (the writer's disk failed; that writer steps
 * back from the queue group, see piece-write-server.ts) is sent again too,
 * to the other writers, `ioErrorRetries` times before it is the answer.
 * Back-pressure: at most `maxInFlight` pieces are out at once; the
 * others wait in writePiece, so the torrent's write backlog grows and it
 * stops asking peers for more.
 *
 * This file is the worker's end; the writer's end is servePieceWrites in
 * piece-write-server.ts.
 */

export interface NatsPieceSinkOptions {
  /** The piece path's own connection (lean-nats-connection.ts): pieces never go through nats.js. */
  bus: LeanNatsConnection;
  /**
   * The direct data path (SEEDBOX_PIECE_DATA=direct): offers ask for it,
   * and a writer that offers an address gets the bytes over these TCP
   * links instead of through NATS. A writer that cannot be reached gets
   * that piece inline.
   */
  direct?: PieceDataLinks;
  /** A piece that went inline because its writer could not be reached directly, and why. */
  onDirectFallback?: (address: string, reason: string) => void;
  /** Names this worker's write ids (for logs and the writers' metrics). */
  workerId: string;
  /** Pieces sent and not yet answered. Default 16. */
  maxInFlight?: number;
  /** How long a writer may take to answer a piece (from its last chunk). Default 30 s. */
  replyTimeoutMs?: number;
  /** How long an offer may wait for a writer to take it. Default 5 s. */
  offerTimeoutMs?: number;
  /** First delay before sending a piece again; doubles up to 5 s. Default 100 ms. */
  retryBaseMs?: number;
  /** `unknown-torrent` is retried this many times (a writer may not have seen the registry entry yet). Default 20. */
  unknownTorrentRetries?: number;
  /** `io-error` is retried this many times, so that another writer takes the piece; the last one is the answer. Default 3. */
  ioErrorRetries?: number;
  /** Per piece answered: seconds from first send to answer. */
  onRoundTrip?: (seconds: number, outcome: PieceWriteOutcome) => void;
  onInFlight?: (pieces: number) => void;
  /** A send that will be retried, for logs. */
  onRetry?: (piece: { infoHash: string; index: number }, reason: string, attempt: number) => void;
}

/** Room left in a message for headers and the protocol line. */
const HEADER_ROOM = 1024;

export class NatsPieceSink implements PieceSink {
  private readonly maxInFlight: number;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  private seq = 0;
  private closed = false;
  private readonly closeController = new AbortController();

  constructor(private readonly options: NatsPieceSinkOptions) {
    this.maxInFlight = options.maxInFlight ?? 16;
    // Every piece waiting to be sent again listens for close().
    setMaxListeners(0, this.closeController.signal);
  }

  get piecesInFlight(): number {
    return this.inFlight;
  }

  async writePiece(w: PieceWrite): Promise<PieceWriteOutcome> {
    if (this.closed) return { status: 'io-error', error: 'the piece sink is closed' };
    if (this.inFlight >= this.maxInFlight) await new Promise<void>((r) => this.waiting.push(r));
    if (this.closed) return { status: 'io-error', error: 'the piece sink is closed' };
    this.inFlight++;
    this.options.onInFlight?.(this.inFlight);
    const started = performance.now();
    try {
      const outcome = await this.send(w);
      this.options.onRoundTrip?.((performance.now() - started) / 1000, outcome);
      return outcome;
    } finally {
      this.inFlight--;
      this.options.onInFlight?.(this.inFlight);
      this.waiting.shift()?.();
    }
  }

  /**
   * Pieces waiting for a slot or for a retry give up with io-error (the
   * torrent puts them back to be fetched again); pieces whose last chunk
   * is out wait for their answer, up to the reply timeout.
   */
  close(): void {
    this.closed = true;
    this.closeController.abort();
    for (const wake of this.waiting.splice(0)) wake();
  }

  private async send(w: PieceWrite): Promise<PieceWriteOutcome> {
    let length = 0;
    for (const b of w.blocks) length += b.byteLength;
    let chunks: Uint8Array[] | undefined;
    let chunkSize = 0;
    let unknown = 0;
    let ioErrors = 0;
    // Cut only when they go inline (never, on the direct path, unless a writer cannot be reached).
    const chunksOf = (): Uint8Array[] => {
      // max_payload is the server's: read it per attempt, since a reconnect may land on another.
      const size = Math.max(64 * 1024, this.options.bus.maxPayload - HEADER_ROOM);
      if (!chunks || size !== chunkSize) {
        chunks = toChunks(w.blocks, length, size);
        chunkSize = size;
      }
      return chunks;
    };
    for (let attempt = 0; ; attempt++) {
      if (this.closed) return { status: 'io-error', error: 'the piece sink is closed' };
      const writeId = `${this.options.workerId}.${++this.seq}`;
      let reason: string;
      try {
        const result = await this.attempt(w, length, chunksOf, writeId);
        if (result === 'incomplete') {
          reason = 'the writer did not get every chunk';
        } else if (result.status === PieceWriteStatus.PIECE_WRITE_STATUS_UNKNOWN_TORRENT && unknown++ < (this.options.unknownTorrentRetries ?? 20)) {
          reason = `writer ${result.writerId} does not know the torrent yet`;
        } else if (result.status === PieceWriteStatus.PIECE_WRITE_STATUS_IO_ERROR && ioErrors++ < (this.options.ioErrorRetries ?? 3)) {
          reason = `writer ${result.writerId} could not write it: ${result.error}`;
        } else {
          // A writer answered, so every byte sent before the answer left
          // this process's socket (one ordered stream): the piece's buffer
          // is free for the next one.
          const outcome = toOutcome(result);
          if (outcome.status !== 'unknown-torrent') for (const b of w.blocks) pieceBuffers.give(b);
          return outcome;
        }
      } catch (e) {
        reason = describeNatsError(e);
      }
      this.options.onRetry?.({ infoHash: w.infoHash, index: w.index }, reason, attempt + 1);
      const delay = Math.min(5000, (this.options.retryBaseMs ?? 100) * 2 ** Math.min(attempt, 6));
      await abortableSleep(delay, this.closeController.signal);
    }
  }

  /**
   * One send of the whole piece. Throws on anything that is not a writer's
   * answer; a connection that drops fails the request under way at once
   * (the answer would be lost with it), so the piece goes again without
   * waiting out the timeout.
   */
  private async attempt(w: PieceWrite, length: number, chunksOf: () => Uint8Array[], writeId: string): Promise<PieceWriteResult | 'incomplete'> {
    const { bus, direct } = this.options;
    const replyTimeout = this.options.replyTimeoutMs ?? 30_000;
    const offer = { [H_INFO_HASH]: w.infoHash, [H_PIECE]: String(w.index), [H_LENGTH]: String(length), [H_WRITE_ID]: writeId, [H_OFFSET]: '0' };
    if (direct) {
      // Only the offer goes to the queue group; the bytes follow to the writer that took it.
      const first = await bus.request(PIECE_OFFER, EMPTY, { headers: { ...offer, [H_DIRECT]: 'direct' }, timeout: this.options.offerTimeoutMs ?? 5000 });
      const next = first.header(H_CONTINUE);
      if (!next) return readResult(first);
      const address = first.header(H_DIRECT);
      if (address) {
        try {
          await direct.send(address, writeId, w.blocks, length);
          return readResult(await bus.request(next, EMPTY, { headers: { [H_WRITE_ID]: writeId, [H_DIRECT]: 'sent' }, timeout: replyTimeout }));
        } catch (e) {
          if (!(e instanceof PieceDataLinkError)) throw e;
          this.options.onDirectFallback?.(address, e.message);
        }
      }
      // A writer without the direct path, or one we cannot reach: the whole piece inline, from offset 0.
      return this.sendChunks(next, chunksOf(), 0, writeId, replyTimeout);
    }
    const chunks = chunksOf();
    const single = chunks.length === 1;
    const first = await bus.request(PIECE_OFFER, chunks[0]!, { headers: offer, timeout: single ? replyTimeout : (this.options.offerTimeoutMs ?? 5000) });
    if (single) return readResult(first);
    const next = first.header(H_CONTINUE);
    if (!next) return readResult(first); // refused at the offer (a bad header, say)
    return this.sendChunks(next, chunks, 1, writeId, replyTimeout);
  }

  /** Chunks `from` on, in order, to the writer's chunk subject; the last one is a request, answered once the piece is written. */
  private async sendChunks(next: string, chunks: Uint8Array[], from: number, writeId: string, replyTimeout: number): Promise<PieceWriteResult | 'incomplete'> {
    const { bus } = this.options;
    let offset = 0;
    for (let i = 0; i < from; i++) offset += chunks[i]!.byteLength;
    for (let i = from; i < chunks.length; i++) {
      const headers = { [H_WRITE_ID]: writeId, [H_OFFSET]: String(offset) };
      const chunk = chunks[i]!;
      offset += chunk.byteLength;
      if (i < chunks.length - 1) {
        bus.publish(next, chunk, { headers });
      } else {
        return readResult(await bus.request(next, chunk, { headers, timeout: replyTimeout }));
      }
    }
    throw new Error('unreachable: a piece ends with a request');
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Cuts the piece's blocks into message-sized chunks. This is the one copy
 * on the worker's side: NATS takes one buffer per message, and blocks are
 * 16 KiB views into the sessions' receive buffers. A piece that is a
 * single block goes as it is.
 */
function toChunks(blocks: readonly Uint8Array[], length: number, size: number): Uint8Array[] {
  if (blocks.length === 1 && length <= size) return [blocks[0]!];
  const chunks: Uint8Array[] = [];
  let chunk = Buffer.allocUnsafeSlow(Math.min(size, length));
  let fill = 0;
  let left = length;
  for (const b of blocks) {
    let at = 0;
    while (at < b.byteLength) {
      const n = Math.min(b.byteLength - at, chunk.byteLength - fill);
      chunk.set(b.subarray(at, at + n), fill);
      fill += n;
      at += n;
      if (fill === chunk.byteLength) {
        chunks.push(chunk);
        left -= fill;
        if (left > 0) chunk = Buffer.allocUnsafeSlow(Math.min(size, left));
        fill = 0;
      }
    }
  }
  return chunks;
}

function readResult(msg: LeanMsg): PieceWriteResult | 'incomplete' {
  if (msg.header(H_INCOMPLETE) !== undefined) return 'incomplete';
  try {
    return PieceWriteResult.decode(msg.data);
  } catch (e) {
    throw new Error(`a writer's answer could not be decoded: ${(e as Error).message}`, { cause: e });
  }
}

function describeNatsError(e: unknown): string {
  if (!(e instanceof LeanNatsError)) return (e as Error).message ?? String(e);
  if (e.code === 'no-responders') return 'no disk-writer is listening';
  if (e.code === 'timeout') return 'no answer in time';
  if (e.code === 'disconnected') return 'the connection to NATS dropped while waiting';
  return 'the connection to NATS is closed';
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
