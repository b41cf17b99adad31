/**
 * Test torrents and byte-for-byte checks.
 *
 * `makeTorrent` writes deterministic pseudo-random content (AES-128-CTR over
 * zeros, keyed by the torrent and file name, so the same spec always gives
 * the same bytes and the same info hash, at hundreds of MB/s) and makes the
 * .torrent with mktorrent (transmission-create for 16 KiB pieces, which
 * mktorrent refuses). `compareTrees` compares the source with what a
 * client downloaded and names the first differing file and offset.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';

export interface FileSpec {
  /** Relative path inside the torrent, with `/` separators. */
  path: string;
  size: number;
}

export interface MakeTorrentOptions {
  /** Where to put the data (under `dir/data/`) and the .torrent. */
  dir: string;
  /** The torrent's name: the single file's name, or the top folder's. */
  name: string;
  /** A list of files gives a multi-file torrent; `{ size }` a single-file one. */
  files: FileSpec[] | { size: number };
  /** Bytes, a power of two from 16 KiB (needs transmission-create) or 32 KiB (mktorrent) to 256 MiB. */
  pieceLength: number;
  /** Announce URL(s). Without one the torrent has no tracker. */
  tracker?: string | string[];
  private?: boolean;
}

export interface TestTorrent {
  torrentPath: string;
  /** The folder that contains `name`: what clients take as their save/download dir. */
  dataRoot: string;
  /** `dataRoot/name`: the single file or the top folder. */
  contentPath: string;
  name: string;
  /** Every file with its absolute path, in the order given (a single-file torrent's one entry has path ''). */
  files: Array<FileSpec & { absPath: string }>;
  totalSize: number;
  pieceLength: number;
  /** Hex SHA-1 of the raw `info` dictionary. */
  infoHash: string;
}

const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK);

/** Writes `size` deterministic bytes derived from `seed` to `path`. */
export async function writeDeterministicFile(path: string, size: number, seed: string): Promise<void> {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(CHUNK, size - done);
      const block = cipher.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
      await fh.write(block, 0, block.length);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

/** Writes the content and makes the .torrent; see the file comment. */
export async function makeTorrent(opts: MakeTorrentOptions): Promise<TestTorrent> {
  const { dir, name, pieceLength } = opts;
  const log2 = Math.log2(pieceLength);
  if (!Number.isInteger(log2) || log2 < 14 || log2 > 28) {
    throw new Error(`pieceLength ${pieceLength} must be a power of two from 16 KiB to 256 MiB`);
  }
  if (name.includes('/') || name === '' || name === '.' || name === '..') {
    throw new Error(`torrent name ${JSON.stringify(name)} must be a plain file name`);
  }
  const dataRoot = join(dir, 'data');
  mkdirSync(dataRoot, { recursive: true });
  const contentPath = join(dataRoot, name);

  const specs: FileSpec[] = Array.isArray(opts.files) ? opts.files : [{ path: '', size: opts.files.size }];
  if (Array.isArray(opts.files) && opts.files.length === 0) throw new Error('a multi-file torrent needs at least one file');
  const files = specs.map((f) => {
    if (f.path.startsWith('/') || f.path.split('/').includes('..')) throw new Error(`file path ${f.path} must stay inside the torrent`);
    return { ...f, absPath: f.path === '' ? contentPath : join(contentPath, ...f.path.split('/')) };
  });
  for (const f of files) await writeDeterministicFile(f.absPath, f.size, `${name}/${f.path}`);

  const torrentPath = join(dir, `${name}.torrent`);
  const trackers = [opts.tracker ?? []].flat();
  // mktorrent takes 32 KiB .. 256 MiB; transmission-create also does 16 KiB
  // (a piece of one block), which edge-case tests want.
  const [maker, args]: [string, string[]] =
    log2 >= 15
      ? ['mktorrent', ['-l', String(log2), '-n', name, '-o', torrentPath, '-d', '-t', '2', ...trackers.flatMap((u) => ['-a', u])]]
      : ['transmission-create', ['-s', String(pieceLength / 1024), '-o', torrentPath, ...trackers.flatMap((u) => ['-t', u])]];
  if (opts.private) args.push('-p');
  args.push(contentPath);
  try {
    execFileSync(maker, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${maker} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }

  return {
    torrentPath,
    dataRoot,
    contentPath,
    name,
    files,
    totalSize: files.reduce((s, f) => s + f.size, 0),
    pieceLength,
    infoHash: await infoHashOf(torrentPath),
  };
}

// ---------------------------------------------------------------- info hash

/**
 * Hex info hash of a .torrent: SHA-1 over the raw bytes of its `info`
 * dictionary as they stand in the file. A minimal bencode walker, so the
 * harness does not depend on the code under test.
 */
export async function infoHashOf(torrentPath: string): Promise<string> {
  const buf = await readFile(torrentPath);
  const skip = (i: number): number => {
    const c = buf[i];
    if (c === 0x69 /* i */) return buf.indexOf(0x65 /* e */, i) + 1;
    if (c === 0x6c /* l */ || c === 0x64 /* d */) {
      i++;
      while (buf[i] !== 0x65) i = skip(i);
      return i + 1;
    }
    const colon = buf.indexOf(0x3a /* : */, i);
    if (colon < 0 || c === undefined || c < 0x30 || c > 0x39) throw new Error(`${torrentPath}: bad bencode at byte ${i}`);
    return colon + 1 + Number(buf.toString('latin1', i, colon));
  };
  if (buf[0] !== 0x64) throw new Error(`${torrentPath}: not a bencoded dictionary`);
  for (let i = 1; buf[i] !== 0x65 && i < buf.length; ) {
    const keyEnd = skip(i);
    const key = buf.toString('latin1', buf.indexOf(0x3a, i) + 1, keyEnd);
    const valueEnd = skip(keyEnd);
    if (key === 'info') return createHash('sha1').update(buf.subarray(keyEnd, valueEnd)).digest('hex');
    i = valueEnd;
  }
  throw new Error(`${torrentPath}: no info dictionary`);
}

// ---------------------------------------------------------------- comparing

export interface TreeDifference {
  /** Relative path of the first file that differs ('' for two single files). */
  file: string;
  /** Byte offset of the first difference, when both files exist with the same size. */
  offset?: number;
  reason: string;
}

/**
 * Compares two files or two folder trees byte for byte. Answers null when
 * identical, else the first difference (files in sorted path order).
 */
export async function compareTrees(a: string, b: string): Promise<TreeDifference | null> {
  const [sa, sb] = await Promise.all([lstat(a).catch(() => null), lstat(b).catch(() => null)]);
  if (!sa || !sb) return { file: '', reason: `${!sa ? a : b} does not exist` };
  if (sa.isFile() && sb.isFile()) return compareFiles(a, b, '');
  if (sa.isDirectory() && sb.isDirectory()) {
    const [la, lb] = await Promise.all([listFiles(a), listFiles(b)]);
    const setB = new Set(lb);
    const setA = new Set(la);
    const onlyA = la.find((f) => !setB.has(f));
    if (onlyA !== undefined) return { file: onlyA, reason: `only in ${a}` };
    const onlyB = lb.find((f) => !setA.has(f));
    if (onlyB !== undefined) return { file: onlyB, reason: `only in ${b}` };
    for (const rel of la) {
      const diff = await compareFiles(join(a, rel), join(b, rel), rel);
      if (diff) return diff;
    }
    return null;
  }
  return { file: '', reason: `${a} is a ${kind(sa)} but ${b} is a ${kind(sb)}` };
}

function kind(s: { isFile(): boolean; isDirectory(): boolean }): string {
  return s.isFile() ? 'file' : s.isDirectory() ? 'folder' : 'special file';
}

/** Regular files under `root`, as sorted `/`-separated relative paths. */
async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.push(relative(root, full).split(sep).join('/'));
    }
  };
  await walk(root);
  return out.sort();
}

async function compareFiles(a: string, b: string, rel: string): Promise<TreeDifference | null> {
  const [fa, fb] = await Promise.all([open(a, 'r'), open(b, 'r')]);
  try {
    const [sa, sb] = await Promise.all([fa.stat(), fb.stat()]);
    if (!sa.isFile() || !sb.isFile()) return { file: rel, reason: 'not a regular file on both sides' };
    if (sa.size !== sb.size) return { file: rel, reason: `size ${sa.size} in ${a} but ${sb.size} in ${b}` };
    const ba = Buffer.allocUnsafe(CHUNK);
    const bb = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; pos < sa.size; ) {
      const want = Math.min(CHUNK, sa.size - pos);
      const [ra, rb] = await Promise.all([readFully(fa, ba, want, pos), readFully(fb, bb, want, pos)]);
      if (ra !== want || rb !== want) return { file: rel, offset: pos, reason: 'file changed size while being compared' };
      if (!ba.subarray(0, want).equals(bb.subarray(0, want))) {
        let i = 0;
        while (ba[i] === bb[i]) i++;
        const at = pos + i;
        return { file: rel, offset: at, reason: `bytes differ at offset ${at}` };
      }
      pos += want;
    }
    return null;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

async function readFully(fh: FileHandle, buf: Buffer, want: number, pos: number): Promise<number> {
  let got = 0;
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got;
}
