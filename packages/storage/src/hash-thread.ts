/**
 * The code of a hash thread (Sha1Pool), and what it answers. One message
 * per job: hash the buffers, and write them to their targets when the
 * hash matches (write-targets.ts), creating new files and their folders
 * as FileOpener would; or stat files (statFiles). Descriptors no job uses
 * any more ride along with any message, and are closed first (closeFile).
 */

// The worker's code travels as a string (`eval: true`) so that it runs the
// same from src/ under vitest, which would hand Node a .ts worker file it
// cannot load, and from dist/ in production, with no worker file whose path
// differs between the two. It is plain CommonJS, the dialect of eval'd
// workers, and small enough to read here.
export const HASH_THREAD_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readlinkSync, statSync, unlinkSync, writevSync } = require('node:fs');
const { dirname, join, relative, sep } = require('node:path');
// The views of the piece's bytes [from, from + length), in order.
function slice(buffers, from, length) {
  const out = [];
  for (const b of buffers) {
    if (length === 0) break;
    if (from >= b.length) { from -= b.length; continue; }
    const take = Math.min(b.length - from, length);
    out.push(b.subarray(from, from + take));
    from = 0;
    length -= take;
  }
  return out;
}
function refuse(code, message) {
  return Object.assign(new Error(message), { code, syscall: 'open' });
}
// The folders from root down to folder, each lstat'ed and made when missing:
// FileOpener.checkFolders' rules, with its words.
function makeFolders(root, folder) {
  let at = root;
  for (const seg of folder === root ? [] : relative(root, folder).split(sep)) {
    at = join(at, seg);
    let st = lstatSync(at, { throwIfNoEntry: false });
    if (!st) {
      try { mkdirSync(at); } catch (err) { if (err.code !== 'EEXIST') throw err; }
      st = lstatSync(at);
    }
    if (st.isSymbolicLink()) throw refuse('STORAGE_SYMLINK', at + ' is a symlink; refusing to follow it');
    if (!st.isDirectory()) throw refuse('STORAGE_NOT_A_FILE', at + ' is not a folder');
  }
}
// A new file (write-targets.ts' NewFile): created exclusively, its missing folders
// first, and refused unless /proc shows it where it was asked for: FileOpener.createNew's
// rules, with its words.
function create({ root, path, flags }) {
  let fd;
  try {
    fd = openSync(path, flags, 0o644);
  } catch (err) {
    // A folder missing, or not a folder (makeFolders says which).
    if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') throw err;
    makeFolders(root, dirname(path));
    fd = openSync(path, flags, 0o644);
  }
  const real = readlinkSync('/proc/self/fd/' + fd);
  if (real === path) return fd;
  try { unlinkSync(real); } catch {}
  closeSync(fd);
  throw refuse('STORAGE_SYMLINK', path + ' leads to ' + real + ': a folder on the way is a symlink; refusing to follow it');
}
// Each target: created first if asked (its descriptor noted in \`opened\`), truncated if asked, then
// pwritev until every byte is down (IOV_MAX at a time): writeAll's loop (vectored-write.ts),
// which eval'd code cannot import. Each file is fstat'ed after its bytes are down (\`after\`): its
// state for the resume data, which would otherwise stat every file by path when it is saved.
function write(buffers, targets, opened, after) {
  for (let k = 0; k < targets.length; k++) {
    const t = targets[k];
    try {
      let fd = t.fd;
      if (t.create) fd = opened[k] = create(t.create);
      if (t.sizeTo !== undefined) ftruncateSync(fd, t.sizeTo);
      let parts = slice(buffers, t.pieceOffset, t.length);
      let at = t.position;
      while (parts.length > 0) {
        const n = writevSync(fd, parts.slice(0, 1024), at);
        if (!(n > 0)) throw Object.assign(new Error('writev wrote ' + n + ' bytes at offset ' + at), { code: 'EIO', syscall: 'writev' });
        at += n;
        let left = n;
        while (parts.length > 0 && left >= parts[0].length) left -= parts.shift().length;
        if (left > 0) parts[0] = parts[0].subarray(left);
      }
      const s = fstatSync(fd);
      after[k] = [s.size, s.mtimeMs, s.blocks];
    } catch (err) {
      return { target: k, code: err.code, syscall: err.syscall, message: err.message };
    }
  }
  return undefined;
}
parentPort.on('message', ({ id, buffers, transferred, expected, targets, hash, close, stat }) => {
  // Descriptors no job uses any more (Sha1Pool.closeFile).
  if (close) for (const fd of close) try { closeSync(fd); } catch {}
  if (stat) {
    const stats = stat.map((path) => {
      try {
        const s = statSync(path, { throwIfNoEntry: false });
        return s ? [s.size, s.mtimeMs, s.blocks] : null;
      } catch {
        return null;
      }
    });
    return parentPort.postMessage({ id, stats });
  }
  try {
    let digest;
    if (hash) {
      const h = createHash('sha1');
      for (const b of buffers) h.update(b);
      digest = h.digest();
    }
    // With targets: written when the hash is the one expected, or when there is no hash to check (checked before).
    const opened = [];
    const after = [];
    const writeError = targets && (!hash || digest.equals(expected)) ? write(buffers, targets, opened, after) : undefined;
    const created = opened.length > 0 ? opened : undefined;
    const stats = after.length > 0 && !writeError ? after : undefined;
    if (!transferred) return parentPort.postMessage({ id, digest, writeError, opened: created, stats });
    // Give the piece back: transferred, so still no copy.
    parentPort.postMessage({ id, digest, writeError, opened: created, stats, buffers }, [...new Set(buffers.map((b) => b.buffer))]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.stack || err) });
  }
});
`;

/** A file's [size, mtimeMs, blocks], or null: it could not be stat'ed. */
export type StatReply = [number, number, number] | null;

export type WriteErrorReply = { target: number; code?: string; syscall?: string; message: string };

/** What the thread answers a job: `stats`, a stat job's files by path, or a write's files by target, as it left them. */
export type Reply =
  | { id: number; digest?: Uint8Array; buffers?: Uint8Array[]; writeError?: WriteErrorReply; opened?: (number | undefined)[]; stats?: StatReply[] }
  | { id: number; error: string };
