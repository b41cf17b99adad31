/**
 * parseMetainfo against libtorrent 2.0 (python3-libtorrent) on every fixture
 * in test/fixtures/torrents/: the same info hash, piece geometry and files.
 * libtorrent is the reference because it is what most of the swarm runs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMetainfo } from '../src/metainfo.js';

const root = join(import.meta.dirname, '../../..');
const fixtures = join(root, 'test/fixtures/torrents');
const ltInfo = join(root, 'test/support/lt_info.py');
const PYTHON = '/usr/bin/python3'; // Debian's, which python3-libtorrent is built for
const torrents = readdirSync(fixtures).filter((f) => f.endsWith('.torrent')).sort();

const ltAvailable = spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0;
// In CI a missing libtorrent must fail the run, not quietly skip the only
// independent check of the parser.
if (!ltAvailable && process.env.CI === 'true') {
  throw new Error('python3-libtorrent is required in CI (apt-get install python3-libtorrent; run with /usr/bin/python3)');
}
if (!ltAvailable) {
  console.warn('metainfo-libtorrent: skipped, `/usr/bin/python3 -c "import libtorrent"` fails (apt-get install python3-libtorrent)');
}

interface LtInfo {
  infoHash: string;
  name: string;
  pieceLength: number;
  pieceCount: number;
  totalLength: number;
  private: boolean;
  files: { path: string; length: number }[];
  rawFiles: { path: string; length: number; offset: number; pad: boolean }[];
}

describe('fixtures', () => {
  it('cover both torrent makers and libtorrent', () => {
    expect(torrents.some((t) => t.startsWith('mktorrent-'))).toBe(true);
    expect(torrents.some((t) => t.startsWith('transmission-'))).toBe(true);
    expect(torrents.some((t) => t.startsWith('libtorrent-'))).toBe(true);
  });
});

describe.skipIf(!ltAvailable)('parseMetainfo agrees with libtorrent', () => {
  for (const name of torrents) {
    it(name, () => {
      const file = join(fixtures, name);
      const lt = JSON.parse(execFileSync(PYTHON, [ltInfo, file], { encoding: 'utf8' })) as LtInfo;
      const meta = parseMetainfo(readFileSync(file));

      expect(meta.infoHashHex).toBe(lt.infoHash);
      expect(meta.name).toBe(lt.name);
      expect(meta.pieceLength).toBe(lt.pieceLength);
      expect(meta.pieceCount).toBe(lt.pieceCount);
      expect(meta.totalLength).toBe(lt.totalLength);
      expect(meta.private).toBe(lt.private);

      // libtorrent names a multi-file torrent's files "name/...": strip that
      // to get paths relative to the torrent's folder, as ours are.
      const relative = (p: string) => (meta.multiFile ? p.slice(meta.name.length + 1) : p);
      for (const f of lt.rawFiles) if (meta.multiFile) expect(f.path.startsWith(`${meta.name}/`)).toBe(true);
      const ltReal = lt.rawFiles.filter((f) => !f.pad).map((f) => ({ path: relative(f.path), length: f.length, offset: f.offset }));
      const ours = meta.files.filter((f) => !f.padding).map((f) => ({ path: f.path.join('/'), length: f.length, offset: f.offset }));
      expect(ours).toEqual(ltReal);
      // The summary lt_info.py gives `seedbox inspect` says the same.
      expect(ours.map(({ path, length }) => ({ path, length }))).toEqual(lt.files);
      // Padding files are not compared by path (libtorrent 2.0 may name them
      // its own way), but they must take up the same bytes.
      expect(meta.files.filter((f) => f.padding).map((f) => [f.offset, f.length])).toEqual(
        lt.rawFiles.filter((f) => f.pad).map((f) => [f.offset, f.length]),
      );
    });
  }
});
