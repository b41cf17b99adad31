"""Prints what libtorrent reads from a .torrent, as JSON shaped like
`seedbox inspect --json`: the reference our parser is checked against.
Run with Debian's /usr/bin/python3 (it has python3-libtorrent)."""
import json, sys
import libtorrent as lt

ti = lt.torrent_info(sys.argv[1])
fs = ti.files()
name = ti.name()
multi = fs.num_files() > 1 or '/' in fs.file_path(0).replace('\\', '/')
files = []
for i in range(fs.num_files()):
    if fs.file_flags(i) & lt.file_storage.flag_pad_file:
        continue
    path = fs.file_path(i).replace('\\', '/')
    # libtorrent puts the torrent's name in front of a multi-file torrent's paths.
    if multi and path.startswith(name + '/'):
        path = path[len(name) + 1:]
    files.append({'path': path, 'length': fs.file_size(i)})
print(json.dumps({
    'infoHash': str(ti.info_hash()),
    'name': name,
    'pieceLength': ti.piece_length(),
    'pieceCount': ti.num_pieces(),
    'totalLength': ti.total_size(),
    'private': ti.priv(),
    'files': files,
}))
