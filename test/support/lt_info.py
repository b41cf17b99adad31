#!/usr/bin/python3
"""What libtorrent reads from a .torrent, as JSON: the reference our parser is
checked against (packages/protocol/tests/metainfo-libtorrent.test.ts and
test/cli-inspect.test.ts).

    /usr/bin/python3 test/support/lt_info.py FILE.torrent

Run it with Debian's /usr/bin/python3, the one python3-libtorrent is for.

Prints one object:

    infoHash     v1 info hash, hex (of a hybrid torrent too)
    name, pieceLength, pieceCount, private
    totalLength  padding files included, as libtorrent counts it
    files        [{path, length}]: the real files, shaped like
                 `seedbox inspect --json`: BEP 47 padding files left out, and
                 paths relative to the torrent's folder (libtorrent puts the
                 torrent's name in front of a multi-file torrent's paths)
    rawFiles     [{path, length, offset, pad}]: every file exactly as
                 libtorrent reports it, for checks that want the padding and
                 offsets too
"""
import json
import sys

import libtorrent as lt

ti = lt.torrent_info(sys.argv[1])
fs = ti.files()
name = ti.name()

raw = []
for i in range(fs.num_files()):
    raw.append({
        'path': fs.file_path(i).replace('\\', '/'),
        'length': fs.file_size(i),
        'offset': fs.file_offset(i),
        'pad': bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
    })

# A single-file torrent's one path is the bare name (which cannot contain a
# '/'); a multi-file torrent's paths all start with "name/".
prefix = name + '/'
files = [
    {'path': f['path'][len(prefix):] if f['path'].startswith(prefix) else f['path'], 'length': f['length']}
    for f in raw
    if not f['pad']
]

print(json.dumps({
    'infoHash': str(ti.info_hashes().v1),
    'name': name,
    'pieceLength': ti.piece_length(),
    'pieceCount': ti.num_pieces(),
    'totalLength': ti.total_size(),
    'private': ti.priv(),
    'files': files,
    'rawFiles': raw,
}))
