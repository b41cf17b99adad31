import type { BandwidthPath, CancelRequest } from './shaper.js';

/**
 * Download shaping at the socket: every byte read is paid for out of a
 * credit granted by the buckets, and once the credit is spent the socket
 * stops reading (`socket.pause()`) until they grant more. The kernel's
 * receive buffer then fills, TCP's window closes, and the peer slows down
 * to the rate we read at: the peer is shaped, not merely our bookkeeping.
 * Bytes are counted as read (every message, not only blocks: they all
 * take the line), so a read larger than the credit leaves the buckets in
 * debt, paid back before anyone is granted again.
 *
 * On an unlimited path this is one property check per read.
 */

/**
 * Credit granted per turn. Small, so that connections take turns often
 * (fair); the size of what is then read is the kernel's business (up to
 * the read buffer), and the debt model keeps the total right regardless.
 */
export const READ_QUANTUM = 16 * 1024;

export interface PausableSocket {
  pause(): unknown;
  resume(): unknown;
}

export class ReadGate {
  private credit = 0;
  private asking = false;
  private paused = false;
  private cancel: CancelRequest | undefined;
  private closed = false;

  constructor(
    private readonly path: BandwidthPath,
    private readonly socket: PausableSocket,
  ) {}

  /** Whether the socket is held paused by the limit now. */
  get holding(): boolean {
    return this.paused;
  }

  /** `bytes` were read from the socket. */
  received(bytes: number): void {
    if (this.closed || !this.path.limited) return;
    if (this.credit >= bytes) this.credit -= bytes;
    else {
      this.path.charge(bytes - this.credit);
      this.credit = 0;
    }
    if (this.credit === 0 && !this.asking) this.ask();
  }

  private ask(): void {
    this.asking = true;
    const cancel = this.path.request(READ_QUANTUM, () => {
      this.asking = false;
      this.cancel = undefined;
      this.credit += READ_QUANTUM;
      if (this.paused && !this.closed) {
        this.paused = false;
        this.socket.resume();
      }
    });
    // Granted at once: the socket never stopped. Otherwise it stops until the grant.
    if (!this.asking) return;
    this.cancel = cancel;
    this.paused = true;
    this.socket.pause();
  }

  close(): void {
    this.closed = true;
    this.cancel?.();
    this.cancel = undefined;
  }
}
