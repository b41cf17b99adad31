import { defaultFleetConfig } from '@seedbox/cluster';
import { parseMetainfo } from '@seedbox/protocol';
import type { Logger, LogFields } from '@seedbox/runtime';
import { MemoryControlBackend } from '../../test/support/memory-control-backend.js';
import { createQbittorrentApi } from '../../services/peer-worker/src/web/qbittorrent/qbittorrent-api.js';
import { checkAccess, isCrossSite, parseCookies } from '../../services/peer-worker/src/web/qbittorrent/qbt-auth.js';
import { addRequest } from '../../services/peer-worker/src/web/qbittorrent/qbt-add.js';
import { QbtError } from '../../services/peer-worker/src/web/qbittorrent/qbt-error.js';
import { infoQuery } from '../../services/peer-worker/src/web/qbittorrent/qbt-filter.js';
import { hashList, optionalBool, optionalInt, optionalNumber, requireInt, singleHash } from '../../services/peer-worker/src/web/qbittorrent/qbt-params.js';
import { preferencesPatch } from '../../services/peer-worker/src/web/qbittorrent/qbt-preferences.js';
import { RecentActivity } from '../../services/peer-worker/src/web/transmission/tr-activity.js';
import { answerRpc } from '../../services/peer-worker/src/web/transmission/tr-dispatch.js';
import type { TrEnv } from '../../services/peer-worker/src/web/transmission/tr-env.js';
import { TrustedProxies } from '../../services/peer-worker/src/web/trusted-proxies.js';
import type { WebApiContext } from '../../services/peer-worker/src/web/web-api.js';
import { WebAuth } from '../../services/peer-worker/src/web/web-auth.js';
import { parseForm, WebRequestError, type FormFields, type WebRequest } from '../../services/peer-worker/src/web/web-request.js';
import { formText, jsonValue } from '../generate.js';
import { mutateJson, mutateRequestParams } from '../structured.js';
import { multipart, parseRawRequest, rawRequest, requestUrl, type RawRequest } from '../http-request.js';
import type { Rng } from '../rng.js';
import { fixtureTorrents, magnets } from '../seeds.js';
import { attempt, once, type FuzzTarget } from '../target.js';

/**
 * The web APIs' readers of untrusted requests (services/peer-worker/src/web):
 * the form parser, the qBittorrent WebAPI's parameter and header readers,
 * the whole qBittorrent WebAPI, and the Transmission RPC's dispatcher.
 *
 * The two whole-API targets run against a fresh in-memory backend
 * (test/support/memory-control-backend.ts, the contract's reference) per
 * case, holding two real torrents and a magnet, with a fixed clock: a case
 * depends on nothing but its bytes. Their contract is that every request
 * gets an answer: a 500 from the qBittorrent API, or a Transmission
 * method failing with an unexpected error (the dispatcher logs "transmission
 * rpc failed"), is a crash.
 */

const NOW = Date.UTC(2025, 0, 1);
const DATA_DIR = '/srv/seedbox-fuzz';
const CREDENTIALS = { username: 'admin', password: 'adminadmin', apiKeys: ['fuzz-api-key'] };
const PROXIES = TrustedProxies.parse('127.0.0.1, 10.0.0.0/8, ::1');
const SOCKET_ADDRESS = '10.0.0.2';
const FIXTURES = once(fixtureTorrents);

/** A Logger that keeps warnings: the APIs log an unexpected failure once, with the error, before answering it. */
class RecordingLogger implements Logger {
  readonly level = 'debug';
  readonly warnings: { msg: string; fields: LogFields | undefined }[] = [];
  isLevelEnabled(): boolean {
    return true;
  }
  debug(): void {}
  info(): void {}
  warn(msg: string, fields?: LogFields): void {
    this.warnings.push({ msg, fields });
  }
  error(msg: string, fields?: LogFields): void {
    this.warnings.push({ msg, fields });
  }
  child(): Logger {
    return this;
  }
}

/** The error the API logged as unexpected, when it did: thrown as the crash, so the report shows its stack. */
function unexpected(log: RecordingLogger, messages: readonly string[]): unknown {
  const w = log.warnings.find((x) => messages.includes(x.msg));
  if (!w) return undefined;
  return w.fields?.['error'] ?? new Error(`${w.msg} (no error attached)`);
}

async function freshContext(log: Logger): Promise<WebApiContext> {
  const backend = new MemoryControlBackend(DATA_DIR);
  const [single, multi] = FIXTURES();
  await backend.putCategory('tv', `${DATA_DIR}/tv`, 'create');
  await backend.add(single!, { paused: false });
  await backend.add(multi!, { paused: true, settings: { category: 'tv', tags: ['a', 'b'] } });
  await backend.addMagnet(Buffer.from(magnets()[1]!).toString('utf8'), { paused: false });
  return {
    backend,
    auth: new WebAuth(CREDENTIALS, { now: () => NOW }),
    dataDir: DATA_DIR,
    version: '0.1.0',
    log,
    now: () => NOW,
    fetchTorrent: async (url) => {
      throw new WebRequestError(400, `fuzz: no network, ${JSON.stringify(url.slice(0, 40))} not fetched`);
    },
    freeSpace: async () => 123_456_789_000,
  };
}

function webRequest(raw: RawRequest): WebRequest {
  const url = requestUrl(raw.target);
  let form: Promise<FormFields> | undefined;
  return {
    method: raw.method,
    path: url.pathname,
    query: url.searchParams,
    headers: raw.headers,
    remoteAddress: PROXIES.clientAddress(SOCKET_ADDRESS, raw.headers['x-forwarded-for']),
    body: async () => raw.body,
    form: () => (form ??= parseForm(raw.body, raw.headers['content-type'], url.searchParams)),
  };
}

// ---- seeds ----

const BOUNDARY = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
const BEARER = { Authorization: 'Bearer fuzz-api-key' };
const BASIC = { Authorization: `Basic ${Buffer.from('admin:adminadmin').toString('base64')}` };
const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** The info hashes of the two torrents every fresh backend holds. */
const hashes = once(() => FIXTURES().slice(0, 2).map((t) => parseMetainfo(t).infoHashHex));

/** Requests as Sonarr, qbittorrent-api (Python), @ctrl/qbittorrent and the web UI send them. */
function qbtRequests(): Uint8Array[] {
  const [a, b] = hashes();
  const torrent = FIXTURES()[0]!;
  const magnet = Buffer.from(magnets()[2]!).toString('utf8');
  const host = { Host: 'localhost:8080' };
  const post = (path: string, body: string, extra: Record<string, string> = {}) => rawRequest('POST', path, { ...host, ...BEARER, ...FORM, ...extra }, body);
  const get = (path: string, extra: Record<string, string> = {}) => rawRequest('GET', path, { ...host, ...BEARER, ...extra });
  return [
    rawRequest('POST', '/api/v2/auth/login', { ...host, Referer: 'http://localhost:8080/', ...FORM }, 'username=admin&password=adminadmin'),
    rawRequest('POST', '/api/v2/auth/login', { ...host, Origin: 'http://evil.example', ...FORM }, 'username=admin&password=wrong'),
    rawRequest('GET', '/api/v2/app/version', { ...host, ...BASIC, Cookie: 'SID=lqn0mtu0.AAAAAAAAAAAAAAAA.xyz; other="quoted"' }),
    get('/api/v2/app/webapiVersion'),
    get('/api/v2/app/preferences'),
    post('/api/v2/app/setPreferences', `json=${encodeURIComponent(JSON.stringify({ dl_limit: 1024, up_limit: -1, queueing_enabled: true, max_active_downloads: 3, max_ratio_enabled: true, max_ratio: 1.5, max_ratio_act: 0, dht: false, save_path: DATA_DIR, encryption: 2 }))}`),
    get(`/api/v2/torrents/info?filter=downloading&category=tv&tag=a&sort=added_on&reverse=true&limit=10&offset=-1&hashes=${a}%7C${b}`),
    get(`/api/v2/torrents/properties?hash=${a}`),
    get(`/api/v2/torrents/files?hash=${b}&indexes=0|1`),
    get(`/api/v2/torrents/trackers?hash=${a}`),
    get(`/api/v2/torrents/pieceStates?hash=${a}`),
    get(`/api/v2/sync/maindata?rid=0`),
    get(`/api/v2/sync/torrentPeers?hash=${a}&rid=3`),
    get(`/api/v2/torrents/export?hash=${b}`),
    post('/api/v2/torrents/add', `urls=${encodeURIComponent(`${magnet}\nhttps://indexer.example/dl/123.torrent`)}&category=movies&tags=x,y&paused=true&dlLimit=1000&ratioLimit=2&seedingTimeLimit=60&sequentialDownload=true&autoTMM=false&contentLayout=Original`),
    rawRequest(
      'POST',
      '/api/v2/torrents/add',
      { ...host, ...BEARER, 'Content-Type': `multipart/form-data; boundary=${BOUNDARY}` },
      multipart(BOUNDARY, [
        { name: 'torrents', filename: 'a.torrent', data: torrent },
        { name: 'savepath', data: `${DATA_DIR}/tv` },
        { name: 'category', data: 'tv' },
        { name: 'stopped', data: 'false' },
        { name: 'addToTopOfQueue', data: 'true' },
      ]),
    ),
    // Multipart as curl, Python's requests and a browser write it: quoted and RFC 5987 names, binary parts, a part with no type, no closing CRLF.
    rawRequest(
      'POST',
      '/api/v2/torrents/add?category=tv',
      { ...host, ...BASIC, 'Content-Type': 'multipart/form-data; boundary="------------------------d74496d66958873e"' },
      multipart('------------------------d74496d66958873e', [
        { name: 'torrents', filename: 'x.torrent', type: 'application/octet-stream', data: FIXTURES()[1]! },
        { name: 'urls', data: `${magnet}\r\n${magnet}` },
        { name: 'tags', data: 'é,ü;"quoted"' },
        { name: 'rename', filename: '', data: new Uint8Array(0) },
      ]),
    ),
    rawRequest(
      'POST',
      '/api/v2/torrents/add',
      { ...host, ...BEARER, 'Content-Type': 'multipart/form-data; charset=utf-8; boundary=b' },
      Buffer.from(`--b\r\nContent-Disposition: form-data; name="torrents"; filename*=UTF-8''%E2%9C%93.torrent\r\nContent-Type: application/x-bittorrent\r\nContent-Transfer-Encoding: binary\r\n\r\n${Buffer.from(FIXTURES()[0]!).toString('latin1')}\r\n--b\r\nContent-Disposition: form-data; name=savepath\r\n\r\n/srv\r\n--b--`, 'latin1'),
    ),
    post('/api/v2/torrents/delete', `hashes=${a}&deleteFiles=false`),
    post('/api/v2/torrents/stop', `hashes=all`),
    post('/api/v2/torrents/setShareLimits', `hashes=${a}|${b}&ratioLimit=-2&seedingTimeLimit=-1&inactiveSeedingTimeLimit=120`),
    post('/api/v2/torrents/setDownloadLimit', `hashes=${b}&limit=0`),
    post('/api/v2/torrents/filePrio', `hash=${b}&id=0|1&priority=7`),
    post('/api/v2/torrents/setCategory', `hashes=${a}&category=tv`),
    post('/api/v2/torrents/addTags', `hashes=${a}&tags=one,two`),
    post('/api/v2/torrents/createCategory', `category=music&savePath=${encodeURIComponent(`${DATA_DIR}/music`)}`),
    post('/api/v2/torrents/setLocation', `hashes=${a}&location=${encodeURIComponent(`${DATA_DIR}/moved`)}`),
    post('/api/v2/torrents/addPeers', `hashes=${a}&peers=203.0.113.7:6881|[2001:db8::1]:51413|bad`),
    post('/api/v2/torrents/topPrio', `hashes=${b}`),
    post('/api/v2/transfer/setDownloadLimit', 'limit=1048576'),
    post('/api/v2/torrents/setForceStart', `hashes=${a}&value=true`, { 'X-Forwarded-For': '203.0.113.9, 10.0.0.7' }),
  ];
}

const QBT_PARAMS = ['hashes', 'hash', 'id', 'category', 'tags', 'tag', 'filter', 'sort', 'reverse', 'limit', 'offset', 'private', 'urls', 'savepath', 'paused', 'stopped', 'dlLimit', 'upLimit', 'ratioLimit', 'seedingTimeLimit', 'inactiveSeedingTimeLimit', 'sequentialDownload', 'firstLastPiecePrio', 'forced', 'addToTopOfQueue', 'skip_checking', 'autoTMM', 'contentLayout', 'json', 'value', 'priority', 'peers', 'location', 'path', 'deleteFiles', 'username', 'password', 'categories', 'savePath', 'rid', 'indexes'];
const QBT_ENDPOINTS = ['auth/login', 'auth/logout', 'app/version', 'app/preferences', 'app/setPreferences', 'torrents/info', 'torrents/properties', 'torrents/files', 'torrents/add', 'torrents/delete', 'torrents/filePrio', 'torrents/setShareLimits', 'torrents/setLocation', 'torrents/addPeers', 'torrents/createTags', 'torrents/setCategory', 'sync/maindata', 'sync/torrentPeers', 'transfer/setUploadLimit', 'torrents/export', 'torrents/topPrio'];

const qbtValues = once((): string[] => {
  const [a, b] = hashes();
  return [a!, b!, a!.toUpperCase(), 'all', 'tv', 'a', 'x,y', '-1', '-2', '0', '1e3', '1.5', 'NaN', `${DATA_DIR}/x`, '../../etc', '203.0.113.7:6881', '[::1]:1', JSON.stringify({ dl_limit: 5, max_ratio_enabled: true }), '{"max_ratio_act":2}', '0|1|2', 'added_on', 'name', '__proto__', 'constructor', 'valueOf'];
});

function generateQbt(rng: Rng): Uint8Array {
  const endpoint = rng.pick(QBT_ENDPOINTS);
  const body = formText(rng, QBT_PARAMS, qbtValues());
  return rng.chance(0.5)
    ? rawRequest('POST', `/api/v2/${endpoint}`, { Host: 'localhost:8080', ...BEARER, ...FORM }, body)
    : rawRequest('GET', `/api/v2/${endpoint}?${body}`, { Host: 'localhost:8080', ...BEARER });
}

const HTTP_TOKENS = ['\r\n', '\r\n\r\n', 'Content-Type: multipart/form-data; boundary=x\r\n', 'Cookie: SID=', 'Authorization: Basic ', 'X-Forwarded-For: ', 'Origin: http://a\r\n', '--' + BOUNDARY, 'filename="', 'name="', '; filename*=UTF-8\'\'%E2%9C%93', '|', '&hashes=', '&json=', '?', '%7C'];

// ---- targets ----

export const webForm: FuzzTarget = {
  name: 'web-form',
  covers: 'parseForm (multipart/form-data through Response.formData, urlencoded bodies and queries), then every field read back',
  seeds: once(() => qbtRequests().filter((r) => Buffer.from(r).includes('Content-Type'))),
  tokens: HTTP_TOKENS,
  structured: (seed, rng) => mutateRequestParams(seed, rng, QBT_PARAMS, qbtValues()),
  generate: generateQbt,
  maxInputBytes: 96 * 1024,
  async run(input) {
    const raw = parseRawRequest(input);
    const form = await parseForm(raw.body, raw.headers['content-type'], requestUrl(raw.target).searchParams);
    for (const name of form.names()) {
      form.text(name);
      form.files(name);
    }
    return 'ok';
  },
  isTypedError: (e) => e instanceof WebRequestError,
};

const isQbtRefusal = (e: unknown) => e instanceof QbtError;

export const qbtParams: FuzzTarget = {
  name: 'qbt-params',
  covers: 'the qBittorrent WebAPI readers: hashList, singleHash, optionalInt/Number/Bool, requireInt, infoQuery, addRequest, preferencesPatch, parseCookies, isCrossSite, checkAccess (Basic, Bearer, SID), TrustedProxies.clientAddress',
  seeds: once(qbtRequests),
  tokens: HTTP_TOKENS,
  structured: (seed, rng) => mutateRequestParams(seed, rng, QBT_PARAMS, qbtValues()),
  generate: generateQbt,
  maxInputBytes: 96 * 1024,
  async run(input) {
    const raw = parseRawRequest(input);
    const req = webRequest(raw);
    parseCookies(raw.headers.cookie);
    isCrossSite(raw.headers);
    checkAccess(new WebAuth(CREDENTIALS, { now: () => NOW }), req);
    let form: FormFields;
    try {
      form = await req.form();
    } catch (e) {
      if (e instanceof WebRequestError) return 'form refused';
      throw e;
    }
    const readers: ((p: FormFields) => unknown)[] = [
      (p) => hashList(p),
      (p) => hashList(p, 'id'),
      (p) => singleHash(p),
      (p) => infoQuery(p),
      (p) => addRequest(p),
      (p) => optionalInt(p, 'limit'),
      (p) => optionalNumber(p, 'ratioLimit'),
      (p) => optionalBool(p, 'paused'),
      (p) => requireInt(p, 'priority'),
      (p) => preferencesPatch(p.text('json') ?? '{}', defaultFleetConfig(), DATA_DIR),
    ];
    let refused = 0;
    for (const read of readers) if (attempt(() => read(form), isQbtRefusal) !== 'ok') refused++;
    return `${refused} refused`;
  },
  isTypedError: (e) => e instanceof QbtError || e instanceof WebRequestError,
};

export const qbtApi: FuzzTarget = {
  name: 'qbt-api',
  covers: 'the whole qBittorrent WebAPI (createQbittorrentApi().handle) over a fresh in-memory backend: routing, login gate, every endpoint; a 500 is a crash',
  seeds: once(qbtRequests),
  tokens: HTTP_TOKENS,
  structured: (seed, rng) => mutateRequestParams(seed, rng, QBT_PARAMS, qbtValues()),
  generate: generateQbt,
  maxInputBytes: 96 * 1024,
  timeLimitMs: 100,
  async run(input) {
    const raw = parseRawRequest(input);
    const log = new RecordingLogger();
    const api = createQbittorrentApi(await freshContext(log));
    const answer = await api.handle(webRequest(raw));
    const error = unexpected(log, ['qBittorrent API request failed']);
    if (error !== undefined) throw error;
    if (answer.status >= 500 && answer.status !== 501 && answer.status !== 503) throw new Error(`HTTP ${answer.status} without a logged error: ${String(answer.body).slice(0, 200)}`);
    return `HTTP ${answer.status}`;
  },
  // The API answers every refusal; nothing may be thrown out of it.
  isTypedError: () => false,
};

const TR_METHODS = ['torrent-get', 'torrent-set', 'torrent-add', 'torrent-remove', 'torrent-start', 'torrent-stop', 'torrent-verify', 'torrent-reannounce', 'torrent-set-location', 'torrent-rename-path', 'queue-move-top', 'queue-move-up', 'session-get', 'session-set', 'session-stats', 'free-space', 'port-test', 'blocklist-update', 'group-get', 'group-set', 'session-close', 'torrent-start-now'];
const TR_KEYS = [
  'method', 'arguments', 'tag', 'ids', 'fields', 'format', 'filename', 'metainfo', 'paused', 'download-dir', 'labels', 'files-wanted', 'files-unwanted', 'priority-high', 'priority-low', 'priority-normal',
  'delete-local-data', 'location', 'move', 'path', 'name', 'downloadLimit', 'downloadLimited', 'uploadLimit', 'uploadLimited', 'seedRatioLimit', 'seedRatioMode', 'seedIdleLimit', 'seedIdleMode',
  'honorsSessionLimits', 'queuePosition', 'sequentialDownload', 'bandwidthPriority', 'peer-limit', 'cookies', 'group', 'alt-speed-down', 'alt-speed-up', 'alt-speed-enabled', 'speed-limit-down',
  'speed-limit-down-enabled', 'speed-limit-up', 'speed-limit-up-enabled', 'seedRatioLimited', 'idle-seeding-limit', 'idle-seeding-limit-enabled', 'download-queue-size', 'seed-queue-size',
  'queue-stalled-minutes', 'encryption', 'dht-enabled', 'peer-port', 'id', 'hashString', 'files', 'fileStats', 'peers', 'trackerStats', 'status', 'percentDone', 'wanted', 'priorities', 'pieces',
];

function transmissionBodies(): Uint8Array[] {
  const [a, b] = hashes();
  const torrent = Buffer.from(FIXTURES()[1]!).toString('base64');
  const magnet = Buffer.from(magnets()[1]!).toString('utf8');
  const calls: unknown[] = [
    // Sonarr's sequence, then what transmission-remote and the Transmission web UI send.
    { method: 'session-get', arguments: { fields: ['version', 'rpc-version', 'download-dir'] }, tag: 1 },
    { method: 'torrent-get', arguments: { fields: ['id', 'hashString', 'name', 'status', 'percentDone', 'files', 'fileStats', 'labels', 'trackerStats', 'peers', 'errorString', 'eta'], ids: [a, 2] } },
    { method: 'torrent-get', arguments: { fields: ['id', 'name', 'totalSize', 'priorities', 'wanted', 'pieces'], format: 'table', ids: 'recently-active' } },
    { method: 'torrent-add', arguments: { metainfo: torrent, 'download-dir': `${DATA_DIR}/tv`, paused: true, labels: ['sonarr'], 'files-unwanted': [1], 'priority-high': [0] } },
    { method: 'torrent-add', arguments: { filename: magnet, paused: false } },
    { method: 'torrent-set', arguments: { ids: [1], downloadLimit: 100, downloadLimited: true, seedRatioLimit: 1.5, seedRatioMode: 1, seedIdleLimit: 30, seedIdleMode: 2, labels: ['x'], 'files-wanted': [0], queuePosition: 0, sequentialDownload: true } },
    { method: 'torrent-set-location', arguments: { ids: [b], location: `${DATA_DIR}/moved`, move: true } },
    { method: 'torrent-remove', arguments: { ids: [a], 'delete-local-data': false } },
    { method: 'torrent-start', arguments: { ids: 'recently-active' } },
    { method: 'torrent-verify', arguments: { ids: [1, 2, 3] } },
    { method: 'queue-move-top', arguments: { ids: [2] } },
    { method: 'session-set', arguments: { 'speed-limit-down': 500, 'speed-limit-down-enabled': true, 'alt-speed-up': 10, seedRatioLimit: 2, seedRatioLimited: true, 'idle-seeding-limit': 60, 'download-queue-size': 3 } },
    { method: 'session-stats' },
    { method: 'free-space', arguments: { path: DATA_DIR } },
    { method: 'torrent-rename-path', arguments: { ids: [1], path: 'a', name: 'b' } },
    { method: 'group-get', arguments: { group: ['default'] } },
  ];
  return calls.map((c) => new Uint8Array(Buffer.from(JSON.stringify(c), 'utf8')));
}

export const transmissionRpc: FuzzTarget = {
  name: 'transmission-rpc',
  covers: 'answerRpc (the Transmission RPC body: JSON, method, arguments, ids, every method) over a fresh in-memory backend; an unexpected method failure is a crash',
  seeds: once(transmissionBodies),
  tokens: [...TR_METHODS.map((m) => `"${m}"`), ...TR_KEYS.map((k) => `"${k}":`), 'null', '[]', '{}', '"recently-active"', '1e400', '-1', '0.5', '"\\ud800"'],
  structured: (seed, rng) => mutateJson(seed, rng, [...TR_KEYS, ...TR_METHODS]),
  generate(rng) {
    const args = jsonValue(rng, TR_KEYS);
    const request = rng.chance(0.9) ? { method: rng.pick(TR_METHODS), arguments: args, ...(rng.chance(0.3) && { tag: jsonValue(rng, TR_KEYS, 3) }) } : args;
    return new Uint8Array(Buffer.from(JSON.stringify(request) ?? 'null', 'utf8'));
  },
  maxInputBytes: 96 * 1024,
  timeLimitMs: 100,
  async run(input) {
    const log = new RecordingLogger();
    const ctx = await freshContext(log);
    const env: TrEnv = { ctx, activity: new RecentActivity(), startedAt: NOW };
    const answer = await answerRpc(Buffer.from(input), env);
    const error = unexpected(log, ['transmission rpc failed']);
    if (error !== undefined) throw error;
    return answer.result === 'success' ? 'success' : 'refused';
  },
  isTypedError: () => false,
};

export const WEB_TARGETS: FuzzTarget[] = [webForm, qbtParams, qbtApi, transmissionRpc];
