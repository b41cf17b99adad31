#!/usr/bin/python3
"""A libtorrent 2.0 peer for interop tests, driven by test/support/peers.ts.

    lt_peer.py seed  --torrent T --save DIR --listen HOST:PORT
    lt_peer.py leech --torrent T --save DIR --listen HOST:PORT --peer HOST:PORT [--peer ...]
    lt_peer.py leech --magnet URI --save DIR --listen HOST:PORT --peer HOST:PORT [--peer ...]

A leech given --magnet starts from the info hash alone and fetches the
info dictionary from its peers (BEP 9) before it downloads.

Run it with Debian's /usr/bin/python3 (the one python3-libtorrent is for).
Prints one line per event, flushed, for the harness to wait on:

    LISTENING <port>     ready: listening, torrent added (a seed: seeding)
    PROGRESS ...         once a second: percent, peers, rates, state
    METADATA <name>      a magnet leech has the info dictionary from its peers
    DONE                 a leech has every piece (it keeps running, seeding)
    PEERS a:p=C,b:q=D    with --print-peers, once a second: the connected peers' addresses and clients
    ALERT <kind>: ...    peer connects/errors, hash failures, and the like
    ERROR ...            fatal; the script exits 1

uTP, DHT, LSD, UPnP and NAT-PMP are off: peers are only the ones given
(uTP over loopback is slow in libtorrent), and those learned by peer
exchange (ut_pex, libtorrent's default plugin; it is never used for a
private torrent). Seeds never dial (seeding_outgoing_connections off)
and use seed_mode, so the data
is not hashed up front (pieces are checked lazily when first requested).
The script exits by itself if its parent process goes away.
"""
import argparse
import os
import sys
import time
import warnings

import libtorrent as lt

# session.status() is deprecated, but it is the bindings' only DHT node count.
warnings.filterwarnings('ignore', category=DeprecationWarning)


def say(*parts):
    print(*parts, flush=True)


def fail(msg):
    say('ERROR', msg)
    sys.exit(1)


def text(value):
    """The bindings give some strings (a peer's client name) as bytes."""
    return value.decode('utf-8', 'replace') if isinstance(value, bytes) else value


def host_port(text):
    host, _, port = text.rpartition(':')
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f'expected HOST:PORT, got {text!r}')
    return host.strip('[]'), int(port)


ENC = {'enabled': 1, 'disabled': 2, 'forced': 0}

# Alerts worth a line in the log: connection life cycle, errors, hash failures.
INTERESTING = {
    'dht_announce_alert', 'dht_reply_alert', 'dht_get_peers_alert', 'dht_bootstrap_alert', 'dht_error_alert',
    'peer_connect_alert', 'peer_disconnected_alert', 'peer_error_alert', 'peer_ban_alert',
    'hash_failed_alert', 'torrent_error_alert', 'file_error_alert', 'invalid_request_alert',
    'torrent_finished_alert', 'listen_failed_alert', 'listen_succeeded_alert',
    'incoming_connection_alert', 'peer_blocked_alert', 'tracker_error_alert', 'tracker_reply_alert',
    'torrent_checked_alert', 'state_changed_alert', 'metadata_failed_alert', 'metadata_received_alert',
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('role', choices=['seed', 'leech', 'node'])
    source = ap.add_mutually_exclusive_group()
    source.add_argument('--torrent', action='append', help='a .torrent; a seed may take several')
    source.add_argument('--magnet', help='a magnet URI (leech only): the metadata comes from the peers')
    ap.add_argument('--save', required=True, help='save_path: the folder that contains the torrent name')
    ap.add_argument('--listen', required=True, type=host_port, help='HOST:PORT (a fixed port: port 0 is unreliable)')
    ap.add_argument('--peer', action='append', default=[], type=host_port)
    ap.add_argument('--encryption', choices=list(ENC), default='enabled')
    ap.add_argument('--exit-when-done', action='store_true')
    ap.add_argument('--upload-limit', type=int, default=0, help='bytes/s; 0 for none')
    ap.add_argument('--print-peers', action='store_true', help='a PEERS line once a second (get_peer_info addresses and clients)')
    ap.add_argument('--dht', action='store_true', help='run a DHT node (on the listen port, UDP) and find and announce the torrent on it')
    ap.add_argument('--dht-bootstrap', action='append', default=[], type=host_port, help='HOST:PORT of a DHT node to bootstrap from')
    args = ap.parse_args()
    if args.role == 'node' and (args.torrent or args.magnet):
        ap.error('a node runs the DHT only: no --torrent or --magnet')
    if args.role == 'node' and not args.dht:
        ap.error('a node needs --dht')
    if args.role != 'node' and not (args.torrent or args.magnet):
        ap.error('a seed or a leech needs --torrent or --magnet')
    if args.magnet and args.role == 'seed':
        ap.error('a seed needs --torrent: it must have the data and the metadata')
    if args.torrent and len(args.torrent) > 1 and args.role != 'seed':
        ap.error('only a seed takes several --torrent')

    parent = os.getppid()
    host, port = args.listen
    s = lt.session({
        'listen_interfaces': f'{host}:{port}',
        'enable_outgoing_utp': False,
        'enable_incoming_utp': False,
        'enable_dht': args.dht,
        'dht_bootstrap_nodes': ','.join(f'{h}:{p}' for h, p in args.dht_bootstrap),
        # A test swarm lives on one private /24: libtorrent's defaults would
        # refuse it (one node per IP range, "dark internet" addresses, node
        # ids that must match the address, BEP 42).
        'dht_restrict_routing_ips': False,
        'dht_restrict_search_ips': False,
        'dht_ignore_dark_internet': False,
        'dht_prefer_verified_node_ids': False,
        'dht_enforce_node_id': False,
        'enable_lsd': False,
        'enable_upnp': False,
        'enable_natpmp': False,
        'allow_multiple_connections_per_ip': True,
        'upload_rate_limit': args.upload_limit,
        'download_rate_limit': 0,
        'smooth_connects': False,
        # A seed never dials (peers it hears of by PEX come to it): two
        # libtorrents dialling each other at once may each drop the other
        # connection as a duplicate peer id, and then neither is connected.
        'seeding_outgoing_connections': args.role != 'seed',
        'in_enc_policy': ENC[args.encryption],
        'out_enc_policy': ENC[args.encryption],
        # Forced means RC4 for the whole stream too, as qBittorrent's "Require encryption" sets it;
        # otherwise libtorrent's default, either.
        'allowed_enc_level': 2 if args.encryption == 'forced' else 3,
        'alert_mask': (lt.alert.category_t.error_notification | lt.alert.category_t.status_notification
                       | lt.alert.category_t.peer_notification | lt.alert.category_t.connect_notification
                       | lt.alert.category_t.storage_notification | lt.alert.category_t.tracker_notification
                       | (lt.alert.category_t.dht_notification if args.dht else 0)),
    })
    if args.upload_limit:
        # Peers on a local network are in libtorrent's local peer class,
        # which ignores the session's rate limits; limit that class too.
        for cid in (lt.session.global_peer_class_id, lt.session.local_peer_class_id):
            pc = s.get_peer_class(cid)
            pc['upload_limit'] = args.upload_limit
            s.set_peer_class(cid, pc)

    def drain():
        for a in s.pop_alerts():
            kind = type(a).__name__
            if kind in INTERESTING:
                say(f'ALERT {kind}: {a.message()}')
            if kind == 'listen_failed_alert':
                fail(f'cannot listen on {host}:{port}: {a.message()}')
            if kind in ('torrent_error_alert', 'file_error_alert'):
                fail(a.message())
            yield a

    deadline = time.time() + 10
    listening = False
    while not listening:
        if time.time() > deadline:
            fail(f'not listening on {host}:{port} after 10 s')
        s.wait_for_alert(200)
        for a in drain():
            if type(a).__name__ == 'listen_succeeded_alert' and a.socket_type == lt.socket_type_t.tcp:
                listening = True

    if args.role == 'node':
        say(f'LISTENING {s.listen_port()}')
        while os.getppid() == parent:
            s.wait_for_alert(1000)
            list(drain())
            say(f'DHT nodes={s.status().dht_nodes}')
        return

    handles = []
    for source in ([args.magnet] if args.magnet else args.torrent):
        if args.magnet:
            atp = lt.parse_magnet_uri(source)
        else:
            atp = lt.add_torrent_params()
            atp.ti = lt.torrent_info(source)
        atp.save_path = args.save
        atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        if args.role == 'seed':
            atp.flags |= lt.torrent_flags.seed_mode
        h = s.add_torrent(atp)
        handles.append(h)
        if args.magnet:
            say(f'ADDED {h.info_hash()} from a magnet link (no metadata yet)')
        else:
            say(f'ADDED {h.info_hash()} {atp.ti.name()} {atp.ti.total_size()} bytes')
    h = handles[0]

    if args.role == 'seed':
        deadline = time.time() + 30
        while not all(x.status().is_seeding for x in handles):
            if time.time() > deadline:
                fail(f'torrents not all seeding after 30 s: states {[x.status().state for x in handles]}')
            s.wait_for_alert(100)
            list(drain())

    say(f'LISTENING {s.listen_port()}')

    def connect_all():
        for peer in args.peer:
            h.connect_peer(peer)

    started = time.time()
    done = False
    have_metadata = not args.magnet
    last_progress = 0.0
    last_connect = 0.0
    while True:
        s.wait_for_alert(250)
        list(drain())
        if os.getppid() != parent:
            say('ERROR parent process is gone; exiting')
            return
        st = h.status()
        now = time.time()
        if not have_metadata and st.has_metadata:
            have_metadata = True
            say(f'METADATA {h.torrent_file().name()}')
        # Without metadata nothing is wanted, which must not read as finished.
        if not done and have_metadata and (st.is_finished or st.is_seeding) and args.role == 'leech':
            done = True
            say(f'DONE {st.total_wanted_done} bytes')
            if args.exit_when_done:
                return
        # Connect once the torrent is checked (libtorrent drops connect_peer
        # calls made while it checks), and again while we have no peer: the
        # peer may not be up yet, or may have dropped an encrypted handshake.
        checking = st.state in (lt.torrent_status.checking_files, lt.torrent_status.checking_resume_data)
        if not done and args.peer and not checking and st.num_peers == 0 and now - last_connect > 0.5:
            last_connect = now
            connect_all()
        if now - last_progress >= 1:
            last_progress = now
            if args.dht:
                say(f'DHT nodes={s.status().dht_nodes}')
                # Announce (a lookup, then announce_peer) again and again
                # while the DHT fills: libtorrent's first one goes out when
                # the torrent is added, before any node is known, and the
                # next only 15 minutes later. A leech keeps at it while it
                # has no peer.
                if (args.role == 'seed' and now - started < 60) or (args.role == 'leech' and not done and st.num_peers == 0):
                    for x in handles:
                        x.force_dht_announce()
            if args.print_peers:
                say('PEERS ' + ','.join(f'{p.ip[0]}:{p.ip[1]}={text(p.client)}' for p in h.get_peer_info()))
            say(f'PROGRESS {st.progress * 100:.1f}% peers={st.num_peers} down={st.download_payload_rate}B/s '
                f'up={st.upload_payload_rate}B/s uploaded={st.total_payload_upload} state={st.state}')


if __name__ == '__main__':
    main()
