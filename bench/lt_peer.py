"""A libtorrent 2.0 peer for the benchmarks: a seed (--seed) or a leech that
exits once it has every piece. uTP, DHT, LSD, UPnP and NAT-PMP are off: uTP
over loopback crawls, and the rest would reach outside the test network."""
import argparse, sys, time
import libtorrent as lt

p = argparse.ArgumentParser()
p.add_argument('torrent')
p.add_argument('save_path')
p.add_argument('--listen', default='0.0.0.0:0')
p.add_argument('--seed', action='store_true')
p.add_argument('--peer', action='append', default=[])
p.add_argument('--upload-limit', type=int, default=0)
a = p.parse_args()

s = lt.session({
    'listen_interfaces': a.listen,
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_outgoing_utp': False, 'enable_incoming_utp': False,
    'allow_multiple_connections_per_ip': True,
    'upload_rate_limit': a.upload_limit,
    'alert_mask': lt.alert.category_t.error_notification,
})
params = {'ti': lt.torrent_info(a.torrent), 'save_path': a.save_path}
if a.seed:
    params['flags'] = lt.torrent_flags.seed_mode
h = s.add_torrent(params)
for peer in a.peer:
    host, port = peer.rsplit(':', 1)
    h.connect_peer((host, int(port)))
print('LISTENING', s.listen_port(), flush=True)
t0 = time.time()
while True:
    st = h.status()
    if not a.seed and st.is_seeding:
        print('DONE %.3f' % (time.time() - t0), flush=True)
        sys.exit(0)
    time.sleep(0.02 if not a.seed else 1)
