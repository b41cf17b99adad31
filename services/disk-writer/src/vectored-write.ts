import type { FileSpan } from '@seedbox/protocol';

/**
 * Writes a piece, given as a list of buffers, to the file spans it covers.
 *
 * The buffer list is cut at file boundaries into views (no copy), and each
 * file gets one vectored positional write: pwritev, which Node exposes as
 * `filehandle.writev(buffers, position)`. A short write is continued from
 * where it stopped until every byte is down, and more than IOV_MAX buffers
 * are split over several calls.
 */
export interface WritableFile {
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
}

/** Linux's IOV_MAX: pwritev refuses more buffers than this in one call. */
export const IOV_MAX = 1024;

export async function writeSpans(
  spans: readonly FileSpan[],
  blocks: readonly Uint8Array[],
  fileFor: (fileIndex: number) => Promise<WritableFile | undefined>,
): Promise<void> {
  let bi = 0; // current block
  let bo = 0; // offset inside it
  for (const span of spans) {
    // Views of the blocks that make up this span.
    const parts: Uint8Array[] = [];
    let need = span.length;
    while (need > 0) {
      const block = blocks[bi];
      if (!block) throw new RangeError(`the blocks hold fewer bytes than the spans (${need} missing)`);
      const take = Math.min(need, block.length - bo);
      if (take > 0) parts.push(block.subarray(bo, bo + take));
      bo += take;
      need -= take;
      if (bo === block.length) {
        bi++;
        bo = 0;
      }
    }
    const file = await fileFor(span.fileIndex);
    // No file: a BEP 47 padding span, whose bytes belong nowhere.
    if (file) await writeAll(file, parts, span.fileOffset);
  }
}

/** pwritev until every byte of `parts` is written at `position`. */
export async function writeAll(file: WritableFile, parts: Uint8Array[], position: number): Promise<void> {
  let pending = parts.filter((p) => p.length > 0);
  let pos = position;
  while (pending.length > 0) {
    const batch = pending.length > IOV_MAX ? pending.slice(0, IOV_MAX) : pending;
    const { bytesWritten } = await file.writev(batch, pos);
    if (bytesWritten <= 0) throw new Error(`writev wrote ${bytesWritten} bytes at ${pos}`);
    pos += bytesWritten;
    // Drop what was written; a partly written buffer continues from its rest.
    let left = bytesWritten;
    let i = 0;
    while (i < pending.length && left >= pending[i]!.length) {
      left -= pending[i]!.length;
      i++;
    }
    pending = pending.slice(i);
    if (left > 0) pending[0] = pending[0]!.subarray(left);
  }
}
