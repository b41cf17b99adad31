import type { Category, FleetAnswer, MaindataResponse, Preferences, Properties, TorrentFile, TorrentPeersResponse, Tracker } from './types.js';

/**
 * The qBittorrent WebAPI v2 as the UI calls it: the same requests
 * qBittorrent's own WebUI makes, with the SID cookie the browser keeps;
 * and seedbox's own API (/api/seedbox/v1/) for the fleet view, behind
 * the same login.
 * Every failure becomes an ApiError carrying a short sentence for the
 * page (the server's own text when it is short and plain, else the
 * status), never a stack trace.
 */

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** The HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    message: string,
  ) {
    super(message);
  }

  /** The server asks for a login (qBittorrent answers 403 Forbidden without a valid SID). */
  get needsLogin(): boolean {
    return this.status === 403;
  }
}

/** At most this many characters of a server's answer are shown; a longer one is not a message meant for people. */
const MAX_MESSAGE = 200;

/** A short sentence from an error body: its first line when it looks like text, else the status. */
export function errorMessage(status: number, statusText: string, body: string): string {
  const line = body.trim().split('\n', 1)[0]!.trim();
  const plain = line !== '' && line.length <= MAX_MESSAGE && !line.startsWith('<') && !/^\s*at\s/.test(line);
  if (plain) return line;
  if (status === 403) return 'Please log in';
  if (status === 404) return 'Not found';
  return `The server answered ${status}${statusText ? ` ${statusText}` : ''}`;
}

export type Fields = Record<string, string | number | boolean | undefined>;

function form(fields: Fields): URLSearchParams {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) body.set(k, String(v));
  return body;
}

export const joinHashes = (hashes: Iterable<string>): string => [...hashes].join('|');

export class Api {
  constructor(
    private readonly base = '/api/v2',
    private readonly seedboxBase = '/api/seedbox/v1',
  ) {}

  /** `path` is under the qBittorrent API, or a whole path when it starts with '/'. */
  private async request(method: 'GET' | 'POST', path: string, o: { query?: Fields; body?: URLSearchParams | FormData } = {}): Promise<Response> {
    const query = o.query ? `?${form(o.query).toString()}` : '';
    const url = path.startsWith('/') ? path : `${this.base}/${path}`;
    let res: Response;
    try {
      res = await fetch(`${url}${query}`, { method, body: o.body, credentials: 'same-origin', cache: 'no-store' });
    } catch {
      throw new ApiError(0, 'The server cannot be reached');
    }
    if (!res.ok) {
      const body = await res.text().catch(() => '');
      throw new ApiError(res.status, errorMessage(res.status, res.statusText, body));
    }
    return res;
  }

  private async getJson<T>(path: string, query?: Fields): Promise<T> {
    const res = await this.request('GET', path, { query });
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiError(res.status, `The answer of ${path} is not JSON`);
    }
  }

  private async post(path: string, fields: Fields | FormData): Promise<string> {
    const res = await this.request('POST', path, { body: fields instanceof FormData ? fields : form(fields) });
    return res.text();
  }

  /** true when logged in; qBittorrent answers 200 "Fails." for wrong credentials, and 403 while the address is banned. */
  async login(username: string, password: string): Promise<boolean> {
    const text = await this.post('auth/login', { username, password });
    return text.trim() === 'Ok.';
  }

  logout(): Promise<string> {
    return this.post('auth/logout', {});
  }

  maindata(rid: number): Promise<MaindataResponse> {
    return this.getJson('sync/maindata', { rid });
  }

  /** torrents/add: multipart, as qBittorrent's WebUI sends it. */
  add(o: { files: File[]; urls: string[]; category: string; savepath: string; stopped: boolean; sequential: boolean }): Promise<string> {
    const body = new FormData();
    for (const f of o.files) body.append('torrents', f, f.name);
    if (o.urls.length > 0) body.set('urls', o.urls.join('\n'));
    if (o.category !== '') body.set('category', o.category);
    if (o.savepath !== '') body.set('savepath', o.savepath);
    body.set('stopped', String(o.stopped));
    body.set('sequentialDownload', String(o.sequential));
    return this.post('torrents/add', body);
  }

  stop(hashes: string[]): Promise<string> {
    return this.post('torrents/stop', { hashes: joinHashes(hashes) });
  }

  start(hashes: string[]): Promise<string> {
    return this.post('torrents/start', { hashes: joinHashes(hashes) });
  }

  recheck(hashes: string[]): Promise<string> {
    return this.post('torrents/recheck', { hashes: joinHashes(hashes) });
  }

  remove(hashes: string[], deleteFiles: boolean): Promise<string> {
    return this.post('torrents/delete', { hashes: joinHashes(hashes), deleteFiles });
  }

  setCategory(hashes: string[], category: string): Promise<string> {
    return this.post('torrents/setCategory', { hashes: joinHashes(hashes), category });
  }

  /** Limits in bytes per second; 0 is none. */
  async setLimits(hashes: string[], download: number, upload: number): Promise<void> {
    await this.post('torrents/setDownloadLimit', { hashes: joinHashes(hashes), limit: download });
    await this.post('torrents/setUploadLimit', { hashes: joinHashes(hashes), limit: upload });
  }

  properties(hash: string): Promise<Properties> {
    return this.getJson('torrents/properties', { hash });
  }

  files(hash: string): Promise<TorrentFile[]> {
    return this.getJson('torrents/files', { hash });
  }

  trackers(hash: string): Promise<Tracker[]> {
    return this.getJson('torrents/trackers', { hash });
  }

  /** sync/torrentPeers: every peer for rid 0, then what changed since the rid given. */
  torrentPeers(hash: string, rid: number): Promise<TorrentPeersResponse> {
    return this.getJson('sync/torrentPeers', { hash, rid });
  }

  reannounce(hashes: string[]): Promise<string> {
    return this.post('torrents/reannounce', { hashes: joinHashes(hashes) });
  }

  /** seedbox's own: the fleet's members and rates. */
  fleet(): Promise<FleetAnswer> {
    return this.getJson(`${this.seedboxBase}/fleet`);
  }

  pieceStates(hash: string): Promise<number[]> {
    return this.getJson('torrents/pieceStates', { hash });
  }

  filePriority(hash: string, ids: number[], priority: number): Promise<string> {
    return this.post('torrents/filePrio', { hash, id: ids.join('|'), priority });
  }

  categories(): Promise<Record<string, Category>> {
    return this.getJson('torrents/categories');
  }

  createCategory(category: string, savePath: string): Promise<string> {
    return this.post('torrents/createCategory', { category, savePath });
  }

  editCategory(category: string, savePath: string): Promise<string> {
    return this.post('torrents/editCategory', { category, savePath });
  }

  removeCategories(names: string[]): Promise<string> {
    return this.post('torrents/removeCategories', { categories: names.join('\n') });
  }

  preferences(): Promise<Preferences> {
    return this.getJson('app/preferences');
  }

  setPreferences(changes: Partial<Preferences>): Promise<string> {
    return this.post('app/setPreferences', { json: JSON.stringify(changes) });
  }

  toggleAltSpeed(): Promise<string> {
    return this.post('transfer/toggleSpeedLimitsMode', {});
  }
}

export const api = new Api();
