import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Bitfield } from '@seedbox/protocol';
import type { FileStats, Sha1Hasher } from './sha1-pool.js';
import { makeFolders } from './make-folders.js';
import { describeIoError } from './storage-errors.js';
import type { TorrentStorage } from './storage.js';

/**
 * Which pieces are already on disk when a torrent starts.
 *
 * The fast path trusts stored resume data, written when seedbox last
 * stopped cleanly, as long as every file still has the size and
 * modification time it recorded: nothing can have changed the data since.
 * Otherwise every piece is read and hashed, a few at a time in parallel
 * (the hash pool's threads and the disk both stay busy, and memory stays
 * bounded). A piece that lies only in files with no allocated blocks (a
 * fresh sparse file) cannot hold data and is skipped without reading, so a
 * new download starts at once.
 */
export interface ResumeData {
  version: 1;
  infoHash: string;
  /** Size and modification time of each file, null for padding files. */
  files: ({ size: number; mtimeMs: number } | null)[];
  /** The verified pieces, as a base64 bitfield. */
  have: string;
}

export interface CheckResult {
  have: Bitfield;
  /** True when the resume data was trusted and nothing was read. */
  fastPath: boolean;
  /** Pieces read and hashed. */
  hashed: number;
}

export interface CheckOptions {
  hasher: Sha1Hasher;
  resume?: ResumeData | undefined;
  /** Pieces read and hashed at once. */
  concurrency?: number;
  onProgress?: (checked: number, total: number) => void;
}

/** A file's state; `blocks` is 0 for a file that was only ever sized, never written. size -1: missing. */
type FileState = FileStats;

const MISSING: FileState = { size: -1, mtimeMs: 0, blocks: 0 };

/**
 * Each file's state (null for padding files); `stat` only for files their
 * folders may hold (a fresh download of 10,000 files in 100 folders has
 * none), all of them in the hasher's thread when it can (statFiles). With
 * `written`, a file our last write left as it knows (WrittenStates) is not
 * asked: the resume data at the end of a download asks none.
 */
async function fileStates(storage: TorrentStorage, hasher?: Sha1Hasher, written = false): Promise<(FileState | null)[]> {
  const known = storage.paths.map((p, i) => (written && p !== undefined ? storage.writtenState(i) : undefined));
  const listed = known.every((k, i) => k !== undefined || storage.paths[i] === undefined)
    ? []
    : await storage.listed().catch(() => storage.paths.map(() => undefined));
  const asked: number[] = [];
  const out: (FileState | null)[] = storage.paths.map((p, i) => {
    if (p === undefined) return null;
    const state = known[i];
    if (state) return state;
    if (listed[i] !== false) asked.push(i);
    return MISSING;
  });
  const paths = asked.map((i) => storage.paths[i]!);
  // A hasher closed already (shutting down): stat'ed here.
  if (paths.length === 0) return out;
  const stats = (await hasher?.statFiles?.(paths).catch(() => undefined)) ?? (await statHere(paths));
  asked.forEach((i, k) => (out[i] = stats[k] ?? MISSING));
  return out;
}

function statHere(paths: readonly string[]): Promise<(FileState | undefined)[]> {
  return Promise.all(
    paths.map((p) =>
      stat(p).then(
        (s) => ({ size: s.size, mtimeMs: s.mtimeMs, blocks: s.blocks }),
        () => undefined,
      ),
    ),
  );
}

export async function checkPieces(storage: TorrentStorage, options: CheckOptions): Promise<CheckResult> {
  const g = storage.geometry;
  // Files as they are now, not as last opened: a volume may have been mounted again since.
  storage.forgetFiles();
  const states = await fileStates(storage, options.hasher);
  const r = options.resume;
  if (
    r &&
    r.version === 1 &&
    r.infoHash === storage.layout.infoHashHex &&
    r.files.length === states.length &&
    r.files.every((f, i) => {
      const s = states[i];
      return f === null ? s === null : s !== null && s !== undefined && s.size === f.size && s.mtimeMs === f.mtimeMs;
    })
  ) {
    try {
      return { have: Bitfield.fromBytes(Buffer.from(r.have, 'base64'), g.pieceCount), fastPath: true, hashed: 0 };
    } catch {
      // A damaged bitfield: fall through to the full check.
    }
  }

  const have = new Bitfield(g.pieceCount);
  const holdsData = (index: number): boolean =>
    g.spans(index).some((s) => {
      const st = states[s.fileIndex];
      return st !== null && st !== undefined && st.blocks > 0 && st.size >= s.fileOffset + s.length;
    });
  let next = 0;
  let done = 0;
  let hashed = 0;
  const worker = async (): Promise<void> => {
    while (next < g.pieceCount) {
      const index = next++;
      if (holdsData(index)) {
        hashed++;
        if (await storage.verifyPiece(index, options.hasher)) have.set(index);
      }
      options.onProgress?.(++done, g.pieceCount);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return { have, fastPath: false, hashed };
}

/** The resume data for the torrent as it stands on disk now, with `have` verified; its files stat'ed in `hasher`'s thread when it can. */
export async function makeResumeData(storage: TorrentStorage, have: Bitfield, hasher?: Sha1Hasher): Promise<ResumeData> {
  const states = await fileStates(storage, hasher, true);
  return {
    version: 1,
    infoHash: storage.layout.infoHashHex,
    files: states.map((s) => (s === null ? null : { size: s.size, mtimeMs: s.mtimeMs })),
    have: Buffer.from(have.toBytes()).toString('base64'),
  };
}

/** Reads resume data; a missing or unreadable file is no resume data, not an error. */
export async function loadResumeData(path: string): Promise<ResumeData | undefined> {
  try {
    const data = JSON.parse(await readFile(path, 'utf8')) as ResumeData;
    return data && data.version === 1 && Array.isArray(data.files) && typeof data.have === 'string' ? data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes resume data atomically: a temporary file, flushed to disk, then
 * renamed over the old one. A save that fails (a full disk) leaves the old
 * file as it was and removes the partial temporary one, which would
 * otherwise hold on to the last free blocks.
 */
export async function saveResumeData(path: string, data: ResumeData): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await makeFolders(dirname(path));
    await writeFile(tmp, JSON.stringify(data), { flush: true });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw describeIoError(err, tmp);
  }
}
