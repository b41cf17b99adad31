import type { LeanMsg, LeanNatsConnection, LeanSubscription } from './lean-nats/lean-nats-connection.js';
import type { PieceSink, PieceWriteOutcome } from './piece-sink.js';
import { PieceWriteResult, PieceWriteStatus } from '@seedbox/proto';
import { OUTCOME_STATUS } from './piece-write-result.js';
import {
  DISK_WRITERS,
  H_CONTINUE,
  H_DIRECT,
  H_INCOMPLETE,
  H_INFO_HASH,
  H_LENGTH,
  H_OFFSET,
  H_PIECE,
  H_WRITE_ID,
  PIECE_OFFER,
  pieceChunkSubject,
} from './subjects.js';

/**
 * The disk-writer's end of the piece path over NATS: takes offers from the
 * `disk-writers` queue group, assembles the chunks of a larger piece that
 * follow on this writer's own chunk subject (or takes its bytes from the
 * direct data path's listener, through expectDirect and takeDirect), and
 * answers each piece once its sink has written it. The exchange, and why
 * the worker retries, is described in nats-piece-sink.ts.
 *
 * A writer whose disk fails (its sink answers io-error with a system error
 * code: a full or read-only volume, an I/O error) steps back: it answers
 * that piece io-error and leaves the queue group for `stepBackMs`, so the
 * worker's next send of the piece, and every new offer, goes to the other
 * writers; then it joins again and tries its disk once more. Pieces it
 * already holds are still written and answered. A piece that was itself
 * wrong (a length, a hash mismatch) is no reason to step back.
 */

export interface PieceWriteServerOptions {
  /**
   * The piece path's own connection (lean-nats-connection.ts): a piece's
   * payload arrives in a buffer of its own, which the sink hashes and
   * writes without copying it again, then gives back to pieceBuffers.
   */
  bus: LeanNatsConnection;
  /** Unique among the writers: names its chunk subject. */
  writerId: string;
  /** Where verified pieces go: the DiskWriter (which verifies and retries I/O itself). */
  sink: PieceSink;
  /** A piece whose chunks stop coming is dropped after this long. Default 30 s. */
  partialTimeoutMs?: number;
  /** Largest piece taken. Default 256 MiB (BEP 3 allows any power of two; clients cap at 16–64 MiB). */
  maxPieceLength?: number;
  /** Pieces being assembled at once; more offers are left to other writers. Default 64. */
  maxPartials?: number;
  /**
   * HOST:PORT where this writer takes pieces' bytes over TCP (its
   * PieceDataListener, fed through expectDirect and takeDirect): offers
   * that ask for the direct data path are answered with it. Without it,
   * they are answered as offers of an inline piece.
   */
  directAddress?: string;
  /** After a direct piece's `sent`, how long its bytes may take to arrive. Default 10 s. */
  directWaitMs?: number;
  /** How long a writer whose disk failed stays out of the queue group. Default 30 s. */
  stepBackMs?: number;
  onResult?: (r: { infoHash: string; index: number; outcome: PieceWriteOutcome; bytes: number; seconds: number }) => void;
  onRefused?: (reason: string) => void;
  /** Left the queue group after a disk failure (`reason`: the sink's error), for `seconds`. */
  onStepBack?: (r: { reason: string; seconds: number }) => void;
  /** Back in the queue group after a step back. */
  onRejoin?: () => void;
}

export interface PieceWriteServer {
  readonly subject: string;
  /** Pieces being assembled or written. */
  readonly active: number;
  /** Out of the queue group after a disk failure (see stepBackMs). */
  readonly steppedBack: boolean;
  /**
   * Stops taking offers (they go to the other writers), then waits for the
   * pieces under way to be written and answered, up to `graceMs`.
   */
  stop(graceMs?: number): Promise<void>;
  /** For the PieceDataListener: the length of a direct piece this writer waits for under `writeId`, once. */
  expectDirect(writeId: string): number | undefined;
  /** For the PieceDataListener: a direct piece's bytes, whole. */
  takeDirect(writeId: string, data: Buffer): void;
}

interface Partial {
  infoHash: string;
  index: number;
  length: number;
  received: number;
  chunks: Uint8Array[];
  timer: NodeJS.Timeout;
  /** Its bytes may come over the direct data path (they may still come inline, if the worker could not reach us). */
  direct: boolean;
  /** The direct listener has started on its frame. */
  directStarted: boolean;
  /** The worker's `sent`, waiting for the bytes; answered when they are written. */
  commit: LeanMsg | undefined;
}

export function servePieceWrites(o: PieceWriteServerOptions): PieceWriteServer {
  const subject = pieceChunkSubject(o.writerId);
  const partials = new Map<string, Partial>();
  const maxLength = o.maxPieceLength ?? 256 * 1024 * 1024;
  const maxPartials = o.maxPartials ?? 64;
  let writing = 0;
  let stopping = false;
  let rejoin: NodeJS.Timeout | undefined;
  const empty = new Uint8Array(0);

  const respond = (msg: LeanMsg, result: Omit<PieceWriteResult, 'writerId'>): void => {
    msg.respond(PieceWriteResult.encode({ ...result, writerId: o.writerId }).finish());
  };
  const respondIncomplete = (msg: LeanMsg): void => {
    msg.respond(empty, { [H_INCOMPLETE]: '1' });
  };
  const refuse = (msg: LeanMsg, why: string, meta?: { infoHash: string; index: number; writeId: string }): void => {
    o.onRefused?.(why);
    respond(msg, {
      infoHash: meta?.infoHash ?? '',
      pieceIndex: meta?.index ?? 0,
      writeId: meta?.writeId ?? '',
      status: PieceWriteStatus.PIECE_WRITE_STATUS_IO_ERROR,
      error: why,
      writeMicros: 0,
    });
  };

  const write = async (msg: LeanMsg, writeId: string, infoHash: string, index: number, chunks: Uint8Array[], length: number): Promise<void> => {
    writing++;
    const started = performance.now();
    let outcome: PieceWriteOutcome;
    try {
      outcome = await o.sink.writePiece({ infoHash, index, blocks: chunks });
    } catch (e) {
      outcome = { status: 'io-error', error: (e as Error).message };
    } finally {
      writing--;
    }
    o.onResult?.({ infoHash, index, outcome, bytes: length, seconds: (performance.now() - started) / 1000 });
    if (outcome.status === 'io-error' && outcome.code !== undefined) stepBack(outcome.error);
    respond(msg, {
      infoHash,
      pieceIndex: index,
      writeId,
      status: OUTCOME_STATUS[outcome.status],
      error: outcome.status === 'io-error' ? outcome.error : '',
      writeMicros: outcome.status === 'written' ? outcome.micros : 0,
    });
  };

  const takeOffers = (): LeanSubscription => o.bus.subscribe(PIECE_OFFER, { queue: DISK_WRITERS }, onOffer);
  const onOffer = (msg: LeanMsg): void => {
    const meta = readOfferHeaders(msg, maxLength);
    if (typeof meta === 'string') return refuse(msg, meta);
    const data = msg.data;
    if (data.byteLength > meta.length) return refuse(msg, `piece ${meta.index}: ${data.byteLength} bytes offered for a piece of ${meta.length}`, meta);
    if (data.byteLength === meta.length) {
      void write(msg, meta.writeId, meta.infoHash, meta.index, [data], meta.length);
      return;
    }
    if (partials.size >= maxPartials || stopping) {
      // Busy: no answer, so the offer times out and goes to another writer.
      return;
    }
    const direct = o.directAddress !== undefined && msg.header(H_DIRECT) === 'direct' && data.byteLength === 0;
    const p: Partial = {
      infoHash: meta.infoHash,
      index: meta.index,
      length: meta.length,
      received: data.byteLength,
      chunks: data.byteLength > 0 ? [data] : [],
      timer: expireAfter(meta.writeId, o.partialTimeoutMs ?? 30_000),
      direct,
      directStarted: false,
      commit: undefined,
    };
    partials.set(meta.writeId, p);
    msg.respond(empty, direct ? { [H_CONTINUE]: subject, [H_DIRECT]: o.directAddress! } : { [H_CONTINUE]: subject });
  };

  /** A piece whose bytes stop coming is forgotten; a `sent` waiting for them is told to send it again. */
  function expireAfter(writeId: string, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const p = partials.get(writeId);
      partials.delete(writeId);
      if (p?.commit) respondIncomplete(p.commit);
    }, ms);
    timer.unref();
    return timer;
  }

  const finish = (writeId: string, p: Partial, answerTo: LeanMsg): void => {
    clearTimeout(p.timer);
    partials.delete(writeId);
    void write(answerTo, writeId, p.infoHash, p.index, p.chunks, p.length);
  };
  let offers: LeanSubscription | undefined = takeOffers();

  /** Out of the queue group for a while; the pieces under way here are still answered. */
  const stepBack = (reason: string): void => {
    if (!offers || stopping) return; // already out
    // Drained, not dropped: offers already on their way here are still
    // answered (io-error, at once) instead of waiting out the reply timeout.
    void offers.drain().catch(() => {});
    offers = undefined;
    const ms = o.stepBackMs ?? 30_000;
    rejoin = setTimeout(() => {
      rejoin = undefined;
      if (stopping) return;
      offers = takeOffers();
      o.onRejoin?.();
    }, ms);
    o.onStepBack?.({ reason, seconds: ms / 1000 });
  };

  const chunks: LeanSubscription = o.bus.subscribe(subject, {}, (msg) => {
    const writeId = msg.header(H_WRITE_ID) ?? '';
    const p = partials.get(writeId);
    if (msg.header(H_DIRECT) === 'sent') {
      // The worker has sent the bytes over TCP: answer once they are here and written.
      if (!p || !p.direct) return respondIncomplete(msg);
      if (p.received === p.length) return finish(writeId, p, msg);
      p.commit = msg;
      clearTimeout(p.timer);
      p.timer = expireAfter(writeId, o.directWaitMs ?? 10_000);
      return;
    }
    const offset = Number(msg.header(H_OFFSET));
    if (!p || offset !== p.received || p.received + msg.data.byteLength > p.length) {
      // Forgotten (timed out), out of order, or too long: a chunk went
      // missing. Drop what we have; the worker sends the piece again.
      if (p) {
        clearTimeout(p.timer);
        partials.delete(writeId);
      }
      respondIncomplete(msg);
      return;
    }
    p.chunks.push(msg.data);
    p.received += msg.data.byteLength;
    if (p.received < p.length) return;
    finish(writeId, p, msg);
  });

  return {
    subject,
    get active() {
      return partials.size + writing;
    },
    get steppedBack() {
      return !offers && !stopping;
    },
    expectDirect(writeId) {
      const p = partials.get(writeId);
      if (!p || !p.direct || p.directStarted || p.received !== 0) return undefined;
      p.directStarted = true;
      return p.length;
    },
    takeDirect(writeId, data) {
      const p = partials.get(writeId);
      // Forgotten meanwhile, or come inline first: the bytes are not needed.
      if (!p || p.received !== 0 || data.byteLength !== p.length) return;
      p.chunks = [data];
      p.received = p.length;
      if (p.commit) finish(writeId, p, p.commit);
    },
    async stop(graceMs = 10_000) {
      stopping = true;
      clearTimeout(rejoin);
      offers?.unsubscribe();
      offers = undefined;
      const deadline = Date.now() + graceMs;
      while ((partials.size > 0 || writing > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      chunks.unsubscribe();
      for (const p of partials.values()) clearTimeout(p.timer);
      partials.clear();
    },
  };
}

const HEX40 = /^[0-9a-f]{40}$/;

/** The offer's headers, checked; a string says which rule broke. */
function readOfferHeaders(msg: LeanMsg, maxLength: number): { infoHash: string; index: number; length: number; writeId: string } | string {
  const h = (name: string): string | undefined => msg.header(name);
  if (h(H_INFO_HASH) === undefined && h(H_WRITE_ID) === undefined) return 'an offer without headers';
  const infoHash = (h(H_INFO_HASH) ?? '').toLowerCase();
  if (!HEX40.test(infoHash)) return `${H_INFO_HASH} '${h(H_INFO_HASH)}' is not 40 hex digits`;
  const index = Number(h(H_PIECE));
  if (!Number.isSafeInteger(index) || index < 0) return `${H_PIECE} '${h(H_PIECE)}' is not a piece index`;
  const length = Number(h(H_LENGTH));
  if (!Number.isSafeInteger(length) || length < 1 || length > maxLength) return `${H_LENGTH} '${h(H_LENGTH)}' is not in 1..${maxLength}`;
  const writeId = h(H_WRITE_ID);
  if (!writeId) return `${H_WRITE_ID} is missing`;
  if (h(H_OFFSET) !== '0') return `an offer starts at ${H_OFFSET} 0`;
  return { infoHash, index, length, writeId };
}
