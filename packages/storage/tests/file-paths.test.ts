import { describe, expect, it } from 'vitest';
import { filePaths } from '../src/file-paths.js';
import { StorageError } from '../src/storage-errors.js';

const multi = (...paths: string[][]) => ({ name: 't', multiFile: true, files: paths.map((path) => ({ path, length: 1 })) });

function errorOf(f: () => unknown): StorageError {
  try {
    f();
  } catch (e) {
    if (e instanceof StorageError) return e;
    throw e;
  }
  throw new Error('no error');
}

describe('filePaths', () => {
  it('joins each file under the resolved root and the torrent name, padding files left out', () => {
    const layout = { name: 't', multiFile: true, files: [{ path: ['a', 'b', 'c.bin'], length: 1 }, { path: ['pad'], length: 1, padding: true }, { path: ['d.bin'], length: 1 }] };
    expect(filePaths(layout, '/srv/dl')).toEqual(['/srv/dl/t/a/b/c.bin', undefined, '/srv/dl/t/d.bin']);
    expect(filePaths(layout, '/srv/dl/')).toEqual(['/srv/dl/t/a/b/c.bin', undefined, '/srv/dl/t/d.bin']);
    expect(filePaths(layout, '/srv/./x/../dl')).toEqual(['/srv/dl/t/a/b/c.bin', undefined, '/srv/dl/t/d.bin']);
    expect(filePaths(layout, '/')).toEqual(['/t/a/b/c.bin', undefined, '/t/d.bin']);
    expect(filePaths({ name: 'movie.mkv', multiFile: false, files: [{ path: ['movie.mkv'], length: 1 }] }, '/srv/dl')).toEqual(['/srv/dl/movie.mkv']);
  });

  it('gives files of many folders, in any order, each its own folder chain', () => {
    const paths = filePaths(multi(['a', 'x'], ['a', 'y'], ['b', 'x'], ['a', 'z'], ['a', 'b', 'x'], ['x']), '/r');
    expect(paths).toEqual(['/r/t/a/x', '/r/t/a/y', '/r/t/b/x', '/r/t/a/z', '/r/t/a/b/x', '/r/t/x']);
  });

  it.each([
    ['a file, then a folder of the same path', [['x'], ['x', 'y']], '/r/t/x'],
    ['a folder, then a file of the same path', [['x', 'y'], ['x']], '/r/t/x'],
    ['a deep folder, apart from the file', [['a', 'b', 'c'], ['z'], ['q', 'r'], ['a', 'b']], '/r/t/a/b'],
    ['a file where a middle folder is', [['a', 'b', 'c', 'd'], ['a', 'b']], '/r/t/a/b'],
  ])('refuses %s (STORAGE_BAD_LAYOUT)', (_what, paths, at) => {
    const e = errorOf(() => filePaths(multi(...paths), '/r'));
    expect([e.code, e.message]).toEqual(['STORAGE_BAD_LAYOUT', `${at} is both a file and a folder of the torrent`]);
  });

  it('refuses two files on one path, adjacent or not', () => {
    expect(errorOf(() => filePaths(multi(['a', 'x'], ['a', 'x']), '/r')).code).toBe('STORAGE_BAD_LAYOUT');
    expect(errorOf(() => filePaths(multi(['a', 'x'], ['b', 'y'], ['a', 'x']), '/r')).code).toBe('STORAGE_BAD_LAYOUT');
  });

  it('names the whole path of a bad segment, and checks the torrent name too', () => {
    const e = errorOf(() => filePaths(multi(['ok'], ['sub', '..', 'x']), '/r'));
    expect(e.code).toBe('STORAGE_PATH_ESCAPES');
    expect([e.message, e.path]).toEqual(['path segment ".." would leave the download folder', 't/sub/../x']);
    expect(errorOf(() => filePaths({ name: '..', multiFile: true, files: [{ path: ['x'], length: 1 }] }, '/r')).code).toBe('STORAGE_PATH_ESCAPES');
    expect(errorOf(() => filePaths({ name: '', multiFile: false, files: [{ path: [''], length: 1 }] }, '/r')).code).toBe('STORAGE_BAD_PATH');
  });
});
