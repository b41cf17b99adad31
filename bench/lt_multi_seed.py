"""One libtorrent 2.0 session seeding every .torrent in a folder, for the
many-torrents benchmark (modelled on bench/lt_peer.py).

  lt_multi_seed.py TORRENT_DIR SAVE_PATH --listen HOST:PORT

Prints `LISTENING port`, then `SEEDING n` once every torrent is seeding and
`ANNOUNCED n` once every torrent has had an answer from its tracker (a
leech that announces before the seed has gets no peer, and would wait a
whole announce interval), then `ANNOUNCES total` whenever the count of
announces sent so far changes (at most once a second, and always just
before ANNOUNCED), so that the bench can tell the seed's announces from the
client's at the tracker.

uTP, DHT, LSD, UPnP and NAT-PMP are off, as in lt_peer.py. The torrents are
added in seed mode (their pieces are checked as they are first asked for,
not all at start) and not auto-managed, so that libtorrent's queue (5
active seeds by default) does not hold any back; the session's limits are
raised to fit every torrent anyway."""
import argparse, os, sys, time
import libtorrent as lt

p = argparse.ArgumentParser()
p.add_argument('torrent_dir')
p.add_argument('save_path')
p.add_argument('--listen', default='0.0.0.0:0')
a = p.parse_args()

files = sorted(f for f in os.listdir(a.torrent_dir) if f.endswith('.torrent'))
n = len(files)
cat = lt.alert.category_t
s = lt.session({
    'listen_interfaces': a.listen,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_outgoing_utp': False, 'enable_incoming_utp': False,
    # Our client makes one connection per torrent, every one from the same address.
    'allow_multiple_connections_per_ip': True,
    'connections_limit': n + 200,
    'active_seeds': n, 'active_limit': n, 'active_tracker_limit': n,
    # A seed in seed mode hashes each piece on first request; unchoke every peer that asks.
    'unchoke_slots_limit': -1,
    # About eight alerts a torrent come at start (added, state changes,
    # finished, checked, announce, reply): a queue that overflows drops
    # tracker replies, and ANNOUNCED would never be said.
    'alert_queue_size': 10 * n + 1000,
    'alert_mask': cat.error_notification | cat.tracker_notification | cat.status_notification,
})

for f in files:
    s.async_add_torrent({'ti': lt.torrent_info(os.path.join(a.torrent_dir, f)), 'save_path': a.save_path, 'flags': lt.torrent_flags.seed_mode})
print('LISTENING', s.listen_port(), flush=True)

added = 0
answered = set()
announces = 0
errors = 0
said_seeding = said_announced = False
last_said = -1
last_say_time = 0.0
while True:
    s.wait_for_alert(500)
    for al in s.pop_alerts():
        if isinstance(al, lt.add_torrent_alert):
            if al.error.value():
                print('ADD FAILED', al.error.message(), flush=True)
                sys.exit(1)
            added += 1
        elif isinstance(al, lt.tracker_announce_alert):
            announces += 1
        elif isinstance(al, lt.tracker_reply_alert):
            answered.add(str(al.handle.info_hashes().v1))
        elif isinstance(al, lt.tracker_error_alert):
            errors += 1
            if errors <= 5:
                print('TRACKER ERROR', al.message(), flush=True)
        elif isinstance(al, lt.alerts_dropped_alert):
            print('ALERTS DROPPED: the counts below are short', flush=True)
    if not said_seeding and added == n:
        seeding = sum(1 for st in s.get_torrent_status(lambda st: st.is_seeding, 0))
        if seeding == n:
            print('SEEDING', n, flush=True)
            said_seeding = True
    if said_seeding and not said_announced and len(answered) >= n:
        # The count first: the bench reads it as soon as it sees ANNOUNCED.
        print('ANNOUNCES', announces, flush=True)
        last_said, last_say_time = announces, time.time()
        print('ANNOUNCED', n, flush=True)
        said_announced = True
    now = time.time()
    if announces != last_said and now - last_say_time >= 1:
        print('ANNOUNCES', announces, flush=True)
        last_said, last_say_time = announces, now
