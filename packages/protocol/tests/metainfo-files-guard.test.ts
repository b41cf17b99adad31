/**
 * parseMetainfo throws MetainfoError and nothing else: even a BencodeError
 * out of readFiles, whose bytes the decoding checked already (a bug of
 * ours if it ever happened), is answered as one.
 */
import { describe, expect, it, vi } from 'vitest';
import { BencodeError } from '../src/bencode-reader.js';
import { encodeBencode } from '../src/bencode.js';
import { MetainfoError } from '../src/metainfo-error.js';
import type * as MetainfoFiles from '../src/metainfo-files.js';

vi.mock('../src/metainfo-files.js', async (importOriginal) => ({
  ...(await importOriginal<typeof MetainfoFiles>()),
  readFiles: () => {
    throw new BencodeError('BENCODE_TRUNCATED', 'input ended inside a list', 7);
  },
}));

const { parseMetainfo } = await import('../src/metainfo.js');

describe('parseMetainfo and readFiles', () => {
  it('answers a BencodeError out of readFiles as METAINFO_BENCODE on info.files', () => {
    const bytes = encodeBencode({ info: { files: [{ length: 5, path: ['a'] }], name: 'x', 'piece length': 16384, pieces: Buffer.alloc(20) } });
    let caught: unknown;
    try {
      parseMetainfo(bytes);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(MetainfoError);
    expect([(caught as MetainfoError).code, (caught as MetainfoError).field]).toEqual(['METAINFO_BENCODE', 'info.files']);
    expect((caught as MetainfoError).cause).toBeInstanceOf(BencodeError);
  });
});
