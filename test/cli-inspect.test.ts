/**
 * `seedbox inspect` as a user runs it: the built CLI in a child process.
 * Its JSON must agree with libtorrent on every fixture, and every malformed
 * torrent must give one clear line and a non-zero exit.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBencode } from '@seedbox/protocol';

const root = join(import.meta.dirname, '..');
const cli = join(root, 'packages/cli/bin/seedbox.js');
const fixtures = join(root, 'test/fixtures/torrents');
const torrents = readdirSync(fixtures).filter((f) => f.endsWith('.torrent')).sort();

function seedbox(...args: string[]) {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
}

const ltAvailable = spawnSync('/usr/bin/python3', ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0;
if (!ltAvailable && process.env.CI === 'true') throw new Error('python3-libtorrent is required in CI (apt-get install python3-libtorrent)');
if (!ltAvailable) console.warn('skipping the libtorrent comparison: needs python3-libtorrent (apt-get install python3-libtorrent)');

describe('seedbox inspect', () => {
  it('has fixtures to check', () => {
    expect(torrents.length).toBeGreaterThanOrEqual(6);
  });

  describe.skipIf(!ltAvailable)('agrees with libtorrent', () => {
    for (const name of torrents) {
      it(name, () => {
        const r = seedbox('inspect', '--json', join(fixtures, name));
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const ours = JSON.parse(r.stdout);
        const lt = JSON.parse(execFileSync('/usr/bin/python3', [join(root, 'test/support/lt_info.py'), join(fixtures, name)], { encoding: 'utf8' }));
        expect(ours.infoHash).toBe(lt.infoHash);
        expect(ours.pieceCount).toBe(lt.pieceCount);
        expect(ours.pieceLength).toBe(lt.pieceLength);
        expect(ours.totalLength).toBe(lt.totalLength);
        expect(ours.name).toBe(lt.name);
        expect(ours.files).toEqual(lt.files);
        expect(Object.keys(ours).sort()).toEqual(
          ['announce', 'files', 'infoHash', 'name', 'pieceCount', 'pieceLength', 'private', 'totalLength'].sort(),
        );
      });
    }
  });

  it('prints a readable summary without --json', () => {
    const r = seedbox('inspect', join(fixtures, torrents[0]!));
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/info hash: +[0-9a-f]{40}/);
  });

  it('reads magnet URIs', () => {
    const r = seedbox('inspect', '--json', 'magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=x&tr=udp%3A%2F%2Ft.example%3A80');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.infoHash).toBe('c12fe1c06bba254a9dc9f519b335aa7c1367a88a');
    expect(j.announce).toEqual([['udp://t.example:80']]);
  });

  describe('malformed input gives one line and a non-zero exit', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'seedbox-inspect-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const info = (extra: Record<string, unknown>) => ({
      name: 'x',
      'piece length': 16384,
      pieces: Buffer.alloc(20),
      length: 100,
      ...extra,
    });
    const cases: [string, Uint8Array | string][] = [
      ['not bencode', 'hello world'],
      ['truncated', 'd4:infod4:name1:x'],
      ['nesting bomb', 'l'.repeat(200_000)],
      ['no info', encodeBencode({ announce: 'http://t/' })],
      ['pieces not a multiple of 20', encodeBencode({ info: info({ pieces: Buffer.alloc(19) }) })],
      ['piece count mismatch', encodeBencode({ info: info({ length: 16385 }) })],
      ['dot-dot path', encodeBencode({ info: { name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20), files: [{ length: 5, path: ['..', 'etc'] }] } })],
      ['empty path segment', encodeBencode({ info: { name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20), files: [{ length: 5, path: ['a', ''] }] } })],
      ['slash in name', encodeBencode({ info: info({ name: 'a/b' }) })],
      ['negative length', encodeBencode({ info: info({ length: -1 }) })],
      ['wrong type', encodeBencode({ info: info({ 'piece length': 'big' }) })],
    ];
    for (const [label, content] of cases) {
      it(label, () => {
        const file = join(dir, `${label.replace(/\W+/g, '-')}.torrent`);
        writeFileSync(file, content);
        const r = seedbox('inspect', file);
        expect(r.status).toBe(1);
        expect(r.stdout).toBe('');
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/^seedbox inspect: .+\.torrent: .+/);
      });
    }

    it('a missing file', () => {
      const r = seedbox('inspect', join(dir, 'nope.torrent'));
      expect(r.status).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    });

    it('a bad magnet URI', () => {
      const r = seedbox('inspect', 'magnet:?xt=urn:btih:zz');
      expect(r.status).toBe(1);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    });

    it('no argument is a usage error', () => {
      expect(seedbox('inspect').status).toBe(2);
    });
  });
});
