/**
 * The two web APIs by hand, as the clients that matter call them (Sonarr's
 * HttpClient, qbit_manage, transmission-remote): a qBittorrent WebAPI
 * session (form posts, the SID cookie) and a Transmission RPC session
 * (Basic auth when given, the session id learnt from the first 409).
 */

export type Json = Record<string, unknown>;

export interface QbtAnswer {
  status: number;
  text: string;
  json<T = Json>(): T;
}

export class QbtSession {
  /** `SID=...` once logged in (or set by hand, to use another replica's session). */
  cookie = '';
  constructor(readonly base: string) {}

  /** GET with a query, or POST with a form (urlencoded, or multipart for a FormData). */
  async call(path: string, o: { form?: Record<string, string> | FormData; query?: Record<string, string> } = {}): Promise<QbtAnswer> {
    const url = `${this.base}/api/v2/${path}${o.query ? `?${new URLSearchParams(o.query)}` : ''}`;
    const body = o.form === undefined ? undefined : o.form instanceof FormData ? o.form : new URLSearchParams(o.form);
    const res = await fetch(url, { method: body ? 'POST' : 'GET', body, headers: this.cookie ? { Cookie: this.cookie } : {} });
    const setCookie = res.headers.get('set-cookie');
    if (setCookie) this.cookie = setCookie.split(';', 1)[0]!;
    const text = await res.text();
    return { status: res.status, text, json: <T>() => JSON.parse(text) as T };
  }

  /** auth/login; throws unless the answer is "Ok.". */
  async login(username: string, password: string): Promise<void> {
    const r = await this.call('auth/login', { form: { username, password } });
    if (r.text !== 'Ok.') throw new Error(`login answered ${r.status} ${JSON.stringify(r.text)}`);
  }
}

export interface RpcAnswer {
  result: string;
  arguments: Json;
}

export class TransmissionRpc {
  sessionId = '';
  private readonly authorization: string | undefined;
  constructor(
    readonly url: string,
    login?: { username: string; password: string },
  ) {
    this.authorization = login ? `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}` : undefined;
  }

  /** One call; a 409 teaches the session id and the call is sent once more. Throws on any other status than 200. */
  async call(method: string, args?: Json): Promise<RpcAnswer> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const res = await fetch(this.url, {
        method: 'POST',
        headers: { 'X-Transmission-Session-Id': this.sessionId, 'Content-Type': 'application/json', ...(this.authorization ? { Authorization: this.authorization } : {}) },
        body: JSON.stringify(args ? { method, arguments: args } : { method }),
      });
      if (res.status === 409) {
        this.sessionId = res.headers.get('x-transmission-session-id') ?? '';
        await res.text();
        continue;
      }
      if (res.status !== 200) throw new Error(`${method} answered HTTP ${res.status}: ${await res.text()}`);
      return (await res.json()) as RpcAnswer;
    }
    throw new Error(`${method}: 409 twice`);
  }

  /** One torrent's fields from torrent-get; throws when it is not there. */
  async torrent(hash: string, fields: string[]): Promise<Json> {
    const got = await this.call('torrent-get', { ids: [hash], fields });
    if (got.result !== 'success') throw new Error(`torrent-get: ${got.result}`);
    const t = (got.arguments.torrents as Json[])[0];
    if (!t) throw new Error(`torrent-get: no torrent ${hash}`);
    return t;
  }
}
