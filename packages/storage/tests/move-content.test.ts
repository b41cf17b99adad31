import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MoveError, moveTorrentContent, torrentContentPath, torrentRemovalPath } from '../src/index.js';
import { commandSucceeds, needTool } from '../../../test/support/tools.js';

// Mounting a tmpfs inside the data folder needs root (as .ci/run has).
const mountable = needTool({ name: 'root and mount (a tmpfs for a second filesystem)', check: () => process.getuid?.() === 0 && commandSucceeds('mount', ['--version']), install: 'run the tests as root' });

const HEX = 'ab'.repeat(20);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'seedbox-move-'));
  dirs.push(d);
  return d;
}

describe('moving a torrent content', () => {
  it('moves from its own folder into a save folder, and on to another, and an open file reads on', async () => {
    const data = dataDir();
    mkdirSync(join(data, HEX, 'show'), { recursive: true });
    writeFileSync(join(data, HEX, 'show', 'e1.mkv'), 'episode one');
    const fh = await open(join(data, HEX, 'show', 'e1.mkv'), 'r');
    try {
      await moveTorrentContent(data, HEX, 'show', undefined, 'tv');
      expect(readFileSync(join(data, 'tv', 'show', 'e1.mkv'), 'utf8')).toBe('episode one');
      // The torrent's own folder is gone with its content.
      expect(existsSync(join(data, HEX))).toBe(false);
      await moveTorrentContent(data, HEX, 'show', 'tv', 'archive/2026');
      expect(existsSync(join(data, 'tv', 'show'))).toBe(false);
      expect(readFileSync(join(data, 'archive', '2026', 'show', 'e1.mkv'), 'utf8')).toBe('episode one');
      // A seed that had the file open reads it still (the rename kept its inode).
      const b = Buffer.alloc(11);
      await fh.read(b, 0, 11, 0);
      expect(b.toString()).toBe('episode one');
    } finally {
      await fh.close();
    }
  });

  it.skipIf(!mountable.available)('moves across filesystems (a tmpfs mounted in the data folder): copied whole, then the original removed', async () => {
    const data = dataDir();
    const other = join(data, 'other-disk');
    mkdirSync(other);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', other]);
    try {
      expect(statSync(other).dev).not.toBe(statSync(data).dev);
      mkdirSync(join(data, HEX, 'show', 'extras'), { recursive: true });
      writeFileSync(join(data, HEX, 'show', 'e1.mkv'), Buffer.alloc(3 * 1024 * 1024, 7));
      writeFileSync(join(data, HEX, 'show', 'extras', 'notes.txt'), 'notes');
      await moveTorrentContent(data, HEX, 'show', undefined, 'other-disk/tv');
      expect(readFileSync(join(other, 'tv', 'show', 'e1.mkv')).equals(Buffer.alloc(3 * 1024 * 1024, 7))).toBe(true);
      expect(readFileSync(join(other, 'tv', 'show', 'extras', 'notes.txt'), 'utf8')).toBe('notes');
      expect(existsSync(join(data, HEX))).toBe(false);
      // And back: the copy goes the other way just as well.
      await moveTorrentContent(data, HEX, 'show', 'other-disk/tv', 'home');
      expect(readFileSync(join(data, 'home', 'show', 'extras', 'notes.txt'), 'utf8')).toBe('notes');
      expect(existsSync(join(other, 'tv', 'show'))).toBe(false);
    } finally {
      execFileSync('umount', [other]);
    }
  });

  it('moves nothing that is not there, and never over content already at the target', async () => {
    const data = dataDir();
    await moveTorrentContent(data, HEX, 'film.mkv', 'a', 'b');
    mkdirSync(join(data, 'a'));
    mkdirSync(join(data, 'b'));
    writeFileSync(join(data, 'a', 'film.mkv'), 'ours');
    writeFileSync(join(data, 'b', 'film.mkv'), 'theirs');
    await expect(moveTorrentContent(data, HEX, 'film.mkv', 'a', 'b')).rejects.toBeInstanceOf(MoveError);
    expect(readFileSync(join(data, 'b', 'film.mkv'), 'utf8')).toBe('theirs');
    expect(readFileSync(join(data, 'a', 'film.mkv'), 'utf8')).toBe('ours');
  });

  it('removes a torrent content alone from a save folder, its own folder whole', () => {
    expect(torrentRemovalPath('/data', HEX, 'film.mkv', 'films')).toBe('/data/films/film.mkv');
    expect(torrentRemovalPath('/data', HEX, 'film.mkv', undefined)).toBe(`/data/${HEX}`);
    expect(torrentContentPath('/data', HEX, 'film.mkv', '')).toBe('/data/film.mkv');
    expect(() => torrentContentPath('/data', HEX, '..', 'films')).toThrow(/one path segment/);
    expect(() => torrentContentPath('/data', HEX, 'a/b', 'films')).toThrow(/one path segment/);
  });
});
