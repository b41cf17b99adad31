import type { FileSpan } from '@seedbox/protocol';

/**
 * Writes a piece, given as a list of buffers, to the file spans it covers.
 *
 * The buffer list is cut at file boundaries into views (no copy), and each
 * file gets one vectored positional write: pwritev, which Node exposes as
 * `filehandle.writev(buffers, position)`. Positional, so concurrent pieces
 * of one file need no lock and no shared file offset. A short write is
 * continued from where it stopped until every byte is down, and more than
 * IOV_MAX buffers are split over several calls.
 */
export interface WritableFile {
  writev(buffers: Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
}

/**
 * Linux's IOV_MAX: pwritev fails with EINVAL above it. libuv happens to
 * split long lists itself; splitting here too keeps the contract in our
 * code, where the tests' fake files exercise it, not in a libuv detail.
 */
export const IOV_MAX = 1024;

/** The part of a piece that lands in one file: its span and the views of the piece that fill it. */
export interface SpanParts {
  span: FileSpan;
  parts: Uint8Array[];
}

/**
 * Cuts `blocks` (whose concatenation is the piece) into one list of views
 * per span. Views, not copies: the piece's bytes are written from where
 * they were received. The blocks must hold exactly the spans' bytes.
 */
export function cutAtSpans(spans: readonly FileSpan[], blocks: readonly Uint8Array[]): SpanParts[] {
  const out: SpanParts[] = [];
  let bi = 0; // current block
  let bo = 0; // offset inside it
  for (const span of spans) {
    const parts: Uint8Array[] = [];
    let need = span.length;
    while (need > 0) {
      const block = blocks[bi];
      if (!block) throw new RangeError(`the blocks hold ${need} bytes fewer than the spans`);
      const take = Math.min(need, block.length - bo);
      if (take > 0) parts.push(block.subarray(bo, bo + take));
      bo += take;
      need -= take;
      if (bo === block.length) {
        bi++;
        bo = 0;
      }
    }
    out.push({ span, parts });
  }
  for (; bi < blocks.length; bi++, bo = 0) {
    if (blocks[bi]!.length > bo) throw new RangeError('the blocks hold more bytes than the spans');
  }
  return out;
}

/**
 * The files a piece is written to, by file index: an array, or a lookup
 * (which may open the file lazily). `undefined` marks a file that is not
 * written, a BEP 47 padding file, whose bytes are zeros that belong nowhere.
 */
export type FileLookup =
  | readonly (WritableFile | undefined)[]
  | ((fileIndex: number) => WritableFile | undefined | Promise<WritableFile | undefined>);

/** Writes the piece held by `blocks` to `spans` (from `PieceGeometry.spans`): one pwritev per file. */
export async function writeSpans(files: FileLookup, spans: readonly FileSpan[], blocks: readonly Uint8Array[]): Promise<void> {
  for (const { span, parts } of cutAtSpans(spans, blocks)) {
    const file = typeof files === 'function' ? await files(span.fileIndex) : files[span.fileIndex];
    if (file) await writeAll(file, parts, span.fileOffset);
  }
}

/** pwritev until every byte of `parts` is written at `position`. */
export async function writeAll(file: WritableFile, parts: readonly Uint8Array[], position: number): Promise<void> {
  const pending = parts.filter((p) => p.length > 0);
  let first = 0; // pending[first..] is still to write
  let pos = position;
  while (first < pending.length) {
    const batch = pending.slice(first, first + IOV_MAX);
    const { bytesWritten } = await file.writev(batch, pos);
    // pwritev answers 0 only when it cannot make progress; looping would spin.
    if (!(bytesWritten > 0)) throw new Error(`writev wrote ${bytesWritten} bytes at offset ${pos}`);
    pos += bytesWritten;
    // Drop what was written; a partly written buffer continues from its rest.
    let left = bytesWritten;
    while (first < pending.length && left >= pending[first]!.length) {
      left -= pending[first]!.length;
      first++;
    }
    if (left > 0) pending[first] = pending[first]!.subarray(left);
  }
}
