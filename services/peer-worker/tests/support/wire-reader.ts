import type { Socket } from 'node:net';
import { decodeHandshake, decodeMessage, type DecodeLimits, type Handshake, type Message } from '@seedbox/protocol';

export interface WireHandlers {
  handshake(h: Handshake): void;
  message(m: Message): void;
  limits?: DecodeLimits;
  /** A wire mistake by the client under test (or a handler's throw); default: hang up. */
  error?(err: Error): void;
}

/**
 * The reading side of the test peers: the other side's handshake, then its
 * messages, each handed over whole and in order. A message's bytes stay
 * valid after the call: every read is appended into a new buffer.
 */
export function readWire(socket: Socket, h: WireHandlers): void {
  let buf = Buffer.alloc(0);
  let shook = false;
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    try {
      for (;;) {
        if (!shook) {
          const r = decodeHandshake(buf);
          if (r.kind === 'need-more') return;
          buf = buf.subarray(r.used);
          shook = true;
          h.handshake(r.value);
          continue;
        }
        const r = decodeMessage(buf, h.limits);
        if (r.kind === 'need-more') return;
        buf = buf.subarray(r.used);
        h.message(r.value);
      }
    } catch (err) {
      if (h.error) h.error(err as Error);
      else socket.destroy();
    }
  });
}
