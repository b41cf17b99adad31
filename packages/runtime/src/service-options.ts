import { hostname } from 'node:os';
import { defineOptions, type ConfigOf } from './config.js';
import { TORRENT_METRICS_MODES } from './torrent-series.js';

/**
 * The options of the operations contract (docs/OPERATIONS-CONTRACT.md): the
 * shared ones, and each service's schema, for loadConfig in config.ts.
 */

/**
 * Who may call the gRPC server (grpc-access.ts applies them): a bearer
 * token on every call, TLS, client certificates. Without a token or client
 * certificates anyone who reaches the port could drive the fleet, so the
 * server then stays on loopback, and an address beyond it is refused at
 * start (as the web APIs without credentials).
 */
export const grpcAccessOptions = defineOptions({
  grpcHost: {
    env: 'SEEDBOX_GRPC_HOST',
    flag: 'grpc-host',
    kind: 'host',
    defaultText: '0.0.0.0 when a token or client certificates are required, else 127.0.0.1',
    describe: 'address of the gRPC server; beyond loopback only with SEEDBOX_TOKEN or SEEDBOX_GRPC_TLS_CLIENT_CA',
  },
  token: {
    env: 'SEEDBOX_TOKEN',
    flag: 'token',
    kind: 'string',
    secret: true,
    describe: 'token every gRPC call must carry as `authorization: Bearer TOKEN` (grpc.health.v1 excepted); 16 to 512 printable characters, no spaces',
  },
  grpcTlsCert: {
    env: 'SEEDBOX_GRPC_TLS_CERT',
    flag: 'grpc-tls-cert',
    kind: 'path',
    describe: 'PEM certificate chain of the gRPC server; with SEEDBOX_GRPC_TLS_KEY the server speaks TLS only',
  },
  grpcTlsKey: { env: 'SEEDBOX_GRPC_TLS_KEY', flag: 'grpc-tls-key', kind: 'path', describe: 'PEM private key of SEEDBOX_GRPC_TLS_CERT' },
  grpcTlsClientCa: {
    env: 'SEEDBOX_GRPC_TLS_CLIENT_CA',
    flag: 'grpc-tls-client-ca',
    kind: 'path',
    describe: 'PEM CA bundle: every gRPC client must present a certificate it signed (needs the TLS certificate and key)',
  },
});

/**
 * How a piece's bytes go from a peer-worker to a disk-writer. The offer
 * and the answer always go over NATS (which picks the writer and notices
 * one that died); `direct` sends the bytes themselves over a TCP stream to
 * the writer that took the offer.
 */
function pieceDataOption() {
  return {
    env: 'SEEDBOX_PIECE_DATA',
    flag: 'piece-data',
    kind: 'enum',
    values: ['nats', 'direct'],
    default: 'nats',
    describe: "how pieces' bytes reach the disk-writers: nats (inline in NATS messages) or direct (a TCP stream to the writer NATS chose; falls back to nats for a writer it cannot reach)",
  } as const;
}

/** "Common to all three": each service spreads these into its schema. */
export const commonOptions = defineOptions({
  natsUrl: {
    env: 'SEEDBOX_NATS_URL',
    flag: 'nats-url',
    kind: 'url',
    default: 'nats://127.0.0.1:4222',
    describe: 'NATS server URLs, comma-separated (nats://, tls://, ws://, wss://)',
  },
  natsUser: { env: 'SEEDBOX_NATS_USER', flag: 'nats-user', kind: 'string', describe: 'NATS user name' },
  natsPassword: { env: 'SEEDBOX_NATS_PASSWORD', flag: 'nats-password', kind: 'string', secret: true, describe: 'NATS password' },
  natsToken: { env: 'SEEDBOX_NATS_TOKEN', flag: 'nats-token', kind: 'string', secret: true, describe: 'NATS token' },
  natsCreds: {
    env: 'SEEDBOX_NATS_CREDS',
    flag: 'nats-creds',
    kind: 'path',
    describe: 'NATS credentials file (a user JWT and its NKey seed, as `nsc` writes it), read again at each reconnect',
  },
  natsTlsCa: {
    env: 'SEEDBOX_NATS_TLS_CA',
    flag: 'nats-tls-ca',
    kind: 'path',
    describe: "PEM CA bundle the NATS servers' certificates must chain to; setting it (or any NATS TLS file) makes the connection TLS",
  },
  natsTlsCert: { env: 'SEEDBOX_NATS_TLS_CERT', flag: 'nats-tls-cert', kind: 'path', describe: 'PEM client certificate for NATS (with SEEDBOX_NATS_TLS_KEY)' },
  natsTlsKey: { env: 'SEEDBOX_NATS_TLS_KEY', flag: 'nats-tls-key', kind: 'path', describe: 'PEM private key of the NATS client certificate' },
  metricsHost: {
    env: 'SEEDBOX_METRICS_HOST',
    flag: 'metrics-host',
    kind: 'host',
    default: '0.0.0.0',
    describe: 'address of the HTTP server for /metrics, /healthz, /readyz',
  },
  metricsPort: {
    env: 'SEEDBOX_METRICS_PORT',
    flag: 'metrics-port',
    kind: 'port',
    default: 9464,
    describe: 'port of the HTTP server for /metrics, /healthz, /readyz; 0 = any free port',
  },
  ...grpcAccessOptions,
  grpcPort: {
    env: 'SEEDBOX_GRPC_PORT',
    flag: 'grpc-port',
    kind: 'port',
    default: 50051,
    describe: 'port of the gRPC server (grpc.health.v1; the control API on peer-workers)',
  },
  logLevel: {
    env: 'SEEDBOX_LOG_LEVEL',
    flag: 'log-level',
    kind: 'enum',
    values: ['debug', 'info', 'warn', 'error'],
    default: 'info',
    describe: 'lowest level of the JSON log lines written to stdout',
  },
  instanceId: {
    env: 'SEEDBOX_INSTANCE_ID',
    flag: 'instance-id',
    kind: 'string',
    default: hostname(),
    defaultText: 'the host name',
    describe: 'unique per replica (the pod name)',
  },
  shutdownTimeoutMs: {
    env: 'SEEDBOX_SHUTDOWN_TIMEOUT_MS',
    flag: 'shutdown-timeout-ms',
    kind: 'duration-ms',
    default: 25000,
    describe: 'how long a graceful shutdown may take before the process exits 1',
  },
});

/**
 * The HTTP APIs seedbox users already have clients for: the qBittorrent
 * WebAPI v2 and the Transmission RPC, on a port of their own. With no
 * credentials set, the port stays on loopback and asks no login (as
 * qBittorrent's bypass for localhost clients); an address other than
 * loopback without credentials is refused at start.
 */
export const webOptions = defineOptions({
  webHost: {
    env: 'SEEDBOX_WEB_HOST',
    flag: 'web-host',
    kind: 'host',
    defaultText: '0.0.0.0 when credentials are set, else 127.0.0.1',
    describe: 'address of the qBittorrent WebAPI and Transmission RPC',
  },
  webPort: {
    env: 'SEEDBOX_WEB_PORT',
    flag: 'web-port',
    kind: 'port',
    default: 8080,
    describe: 'port of the qBittorrent WebAPI (/api/v2) and Transmission RPC (/transmission/rpc); 0 = any free port',
  },
  webUsername: { env: 'SEEDBOX_WEB_USERNAME', flag: 'web-username', kind: 'string', describe: 'user name for the web APIs (qBittorrent login, Transmission Basic auth)' },
  webPassword: { env: 'SEEDBOX_WEB_PASSWORD', flag: 'web-password', kind: 'string', secret: true, describe: 'password for the web APIs' },
  webApiKeys: {
    env: 'SEEDBOX_WEB_API_KEYS',
    flag: 'web-api-keys',
    kind: 'string',
    secret: true,
    describe: 'API keys for the qBittorrent WebAPI (Authorization: Bearer KEY), comma-separated',
  },
  webTrustedProxies: {
    env: 'SEEDBOX_WEB_TRUSTED_PROXIES',
    flag: 'web-trusted-proxies',
    kind: 'string',
    describe: 'reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names the client, so failed logins are counted per client rather than per proxy',
  },
});

export const peerWorkerOptions = defineOptions({
  ...commonOptions,
  ...webOptions,
  dataDir: {
    env: 'SEEDBOX_DATA_DIR',
    flag: 'data-dir',
    kind: 'path',
    required: true,
    describe: 'the shared volume (read for seeding)',
  },
  listenHost: { env: 'SEEDBOX_LISTEN_HOST', flag: 'listen-host', kind: 'host', default: '0.0.0.0', describe: 'BitTorrent TCP address' },
  listenPort: { env: 'SEEDBOX_LISTEN_PORT', flag: 'listen-port', kind: 'port', default: 6881, describe: 'BitTorrent TCP port' },
  announceHost: {
    env: 'SEEDBOX_ANNOUNCE_HOST',
    flag: 'announce-host',
    kind: 'host',
    describe: 'the address trackers give out for this worker',
  },
  announcePort: {
    env: 'SEEDBOX_ANNOUNCE_PORT',
    flag: 'announce-port',
    kind: 'port',
    min: 1,
    defaultText: 'the listen port',
    describe: 'the port trackers give out for this worker, e.g. a NodePort or hostPort',
  },
  maxPeers: { env: 'SEEDBOX_MAX_PEERS', flag: 'max-peers', kind: 'int', min: 1, default: 50, describe: 'peers per torrent' },
  maxConnections: {
    env: 'SEEDBOX_MAX_CONNECTIONS',
    flag: 'max-connections',
    kind: 'int',
    min: 1,
    default: 500,
    describe: 'peer connections of the whole process (every torrent, and those handshaking); incoming ones past it are refused',
  },
  maxConnectionsPerIp: {
    env: 'SEEDBOX_MAX_CONNECTIONS_PER_IP',
    flag: 'max-connections-per-ip',
    kind: 'int',
    min: 1,
    default: 16,
    describe: 'incoming connections from one address at once; raise it behind a NAT or a SNAT-ing Service, where peers share an address',
  },
  dht: {
    env: 'SEEDBOX_DHT',
    flag: 'dht',
    kind: 'bool',
    default: true,
    describe: "whether the fleet's tracker-clients run the DHT (their SEEDBOX_DHT): a public torrent, a magnet link without trackers too, can then be found",
  },
  encryption: {
    env: 'SEEDBOX_ENCRYPTION',
    flag: 'encryption',
    kind: 'enum',
    values: ['prefer', 'require', 'disable'],
    default: 'prefer',
    describe: 'message stream encryption (MSE/PE): prefer (try it, fall back to plain), require (RC4 only), disable (plain only)',
  },
  pieceData: pieceDataOption(),
  torrentMetrics: {
    env: 'SEEDBOX_TORRENT_METRICS',
    flag: 'torrent-metrics',
    kind: 'enum',
    values: TORRENT_METRICS_MODES,
    default: 'active',
    describe:
      'which torrents have per-torrent metrics (info_hash series): active (those with bytes left, or a peer or bytes moved in the last 10 minutes), all, or none (the process-wide metrics stay)',
  },
  maxPiecesInFlight: {
    env: 'SEEDBOX_MAX_PIECES_IN_FLIGHT',
    flag: 'max-pieces-in-flight',
    kind: 'int',
    min: 1,
    default: 16,
    describe: 'pieces sent to disk-writers and not yet answered',
  },
});

export const diskWriterOptions = defineOptions({
  ...commonOptions,
  pieceData: pieceDataOption(),
  pieceDataHost: {
    env: 'SEEDBOX_PIECE_DATA_HOST',
    flag: 'piece-data-host',
    kind: 'host',
    default: '0.0.0.0',
    describe: 'address the direct data path listens on (SEEDBOX_PIECE_DATA=direct)',
  },
  pieceDataPort: {
    env: 'SEEDBOX_PIECE_DATA_PORT',
    flag: 'piece-data-port',
    kind: 'port',
    default: 6883,
    describe: 'TCP port of the direct data path (SEEDBOX_PIECE_DATA=direct); peer-workers must reach it',
  },
  pieceDataAddress: {
    env: 'SEEDBOX_PIECE_DATA_ADDRESS',
    flag: 'piece-data-address',
    kind: 'host',
    defaultText: 'SEEDBOX_PIECE_DATA_HOST, or when that is 0.0.0.0 or ::, this machine\'s first non-loopback address',
    describe: 'the address peer-workers reach this writer at over the direct data path (in Kubernetes, the pod IP)',
  },
  dataDir: {
    env: 'SEEDBOX_DATA_DIR',
    flag: 'data-dir',
    kind: 'path',
    required: true,
    describe: 'the shared volume (written)',
  },
  hashThreads: {
    env: 'SEEDBOX_HASH_THREADS',
    flag: 'hash-threads',
    kind: 'int',
    min: 0,
    max: 64,
    default: 0,
    describe: 'SHA-1 worker threads; 0 hashes on the event loop, which costs least per piece (no hand-over to a thread, no thread heaps) and keeps up with about 1.5 GB/s per writer; more threads hash pieces side by side beyond that',
  },
});

/** How the tracker-client announces, in the fleet and in `seedbox serve`. */
const announceOptions = defineOptions({
  announceToAllTiers: {
    env: 'SEEDBOX_ANNOUNCE_TO_ALL_TIERS',
    flag: 'announce-to-all-tiers',
    kind: 'bool',
    default: false,
    describe: "announce every torrent to a tracker of each tier of its list, not only to the first tier that answers (BEP 12's order, the default, as libtorrent's announce_to_all_tiers)",
  },
});

/** The DHT node (BEP 5) of the tracker-client, and of `seedbox serve`. */
const dhtOptions = defineOptions({
  dht: {
    env: 'SEEDBOX_DHT',
    flag: 'dht',
    kind: 'bool',
    default: true,
    describe: 'find and announce every public torrent on the DHT (BEP 5); private torrents never are',
  },
  dhtPort: {
    env: 'SEEDBOX_DHT_PORT',
    flag: 'dht-port',
    kind: 'port',
    default: 6881,
    describe: 'UDP port of the DHT node',
  },
  dhtBootstrap: {
    env: 'SEEDBOX_DHT_BOOTSTRAP',
    flag: 'dht-bootstrap',
    kind: 'string',
    defaultText: 'router.bittorrent.com:6881, router.utorrent.com:6881, dht.transmissionbt.com:6881, dht.libtorrent.org:25401',
    describe: "DHT nodes to join through, HOST:PORT,... ('none': no routers; the saved routing table and whoever contacts us)",
  },
  dhtStateFile: {
    env: 'SEEDBOX_DHT_STATE_FILE',
    flag: 'dht-state-file',
    kind: 'path',
    describe: 'where the DHT routing table is kept between runs (none: rebuilt from the routers at each start)',
  },
});

export const trackerClientOptions = defineOptions({
  ...commonOptions,
  ...announceOptions,
  ...dhtOptions,
  workerTimeoutMs: {
    env: 'SEEDBOX_WORKER_TIMEOUT_MS',
    flag: 'worker-timeout-ms',
    kind: 'duration-ms',
    min: 1,
    default: 15000,
    describe: 'a worker silent this long is announced stopped',
  },
});

/**
 * `seedbox serve`: the three services in one process, no NATS. The same
 * names as the services' options; what listens for control and metrics
 * defaults to loopback, since there is no login on them.
 */
const {
  natsUrl: _u,
  natsUser: _nu,
  natsPassword: _np,
  natsToken: _nt,
  natsCreds: _nc,
  natsTlsCa: _nca,
  natsTlsCert: _ncert,
  natsTlsKey: _nkey,
  ...withoutNats
} = commonOptions;
export const serveOptions = defineOptions({
  ...withoutNats,
  metricsHost: { ...commonOptions.metricsHost, default: '127.0.0.1' },
  // Loopback even with a token: a daemon on a desktop is not exposed unless asked to be.
  grpcHost: {
    env: 'SEEDBOX_GRPC_HOST',
    flag: 'grpc-host',
    kind: 'host',
    default: '127.0.0.1',
    describe: 'address of the gRPC control API (and grpc.health.v1); beyond loopback only with SEEDBOX_TOKEN or SEEDBOX_GRPC_TLS_CLIENT_CA',
  },
  grpcPort: { ...commonOptions.grpcPort, describe: 'port of the gRPC control API (and grpc.health.v1)' },
  dataDir: {
    env: 'SEEDBOX_DATA_DIR',
    flag: 'data-dir',
    aliases: ['data'],
    kind: 'path',
    required: true,
    describe: 'where torrents are downloaded to, one folder per info hash',
  },
  stateDir: {
    env: 'SEEDBOX_STATE_DIR',
    flag: 'state-dir',
    kind: 'path',
    defaultText: 'DATA_DIR/.seedbox',
    describe: 'the registry, bitfields and resume data',
  },
  watchDir: {
    env: 'SEEDBOX_WATCH_DIR',
    flag: 'watch-dir',
    kind: 'path',
    describe: 'a folder whose .torrent and .magnet files are added, then renamed .added or .invalid',
  },
  listenHost: peerWorkerOptions.listenHost,
  listenPort: peerWorkerOptions.listenPort,
  announceHost: { ...peerWorkerOptions.announceHost, describe: 'the address trackers give out for us (default: the one they see)' },
  announcePort: { ...peerWorkerOptions.announcePort, describe: 'the port trackers give out for us' },
  maxPeers: peerWorkerOptions.maxPeers,
  maxConnections: peerWorkerOptions.maxConnections,
  maxConnectionsPerIp: peerWorkerOptions.maxConnectionsPerIp,
  encryption: peerWorkerOptions.encryption,
  torrentMetrics: peerWorkerOptions.torrentMetrics,
  dht: dhtOptions.dht,
  dhtPort: { env: 'SEEDBOX_DHT_PORT', flag: 'dht-port', kind: 'port', defaultText: 'the listen port', describe: 'UDP port of the DHT node' },
  dhtBootstrap: dhtOptions.dhtBootstrap,
  dhtStateFile: { ...dhtOptions.dhtStateFile, defaultText: 'STATE_DIR/dht-state.json' },
  // In one process the event loop also serves every peer: hashing stays off it.
  hashThreads: { ...diskWriterOptions.hashThreads, min: 1, default: 2, describe: 'SHA-1 worker threads (off the event loop, which serves the peers)' },
  ...announceOptions,
  ...webOptions,
});

export type CommonConfig = ConfigOf<typeof commonOptions>;
export type GrpcAccessConfig = ConfigOf<typeof grpcAccessOptions>;
export type WebConfig = ConfigOf<typeof webOptions>;
export type ServeConfig = ConfigOf<typeof serveOptions>;
export type PeerWorkerConfig = ConfigOf<typeof peerWorkerOptions>;
export type DiskWriterConfig = ConfigOf<typeof diskWriterOptions>;
export type TrackerClientConfig = ConfigOf<typeof trackerClientOptions>;
