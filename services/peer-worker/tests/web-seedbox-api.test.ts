/**
 * seedbox's own web API (/api/seedbox/v1/fleet) over a real HTTP server,
 * beside the qBittorrent WebAPI whose login it shares: refused without a
 * session, an API key or Basic credentials; the fleet's members and rate
 * history in the answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '@seedbox/runtime';
import type { ControlBackend } from '../src/control/backend.js';
import { FleetMembers } from '../src/fleet/fleet-members.js';
import type { FleetView } from '../src/fleet/fleet-view.js';
import { RateHistory } from '../src/fleet/rate-history.js';
import { createQbittorrentApi } from '../src/web/qbittorrent/qbittorrent-api.js';
import { createSeedboxApi, type FleetAnswer } from '../src/web/seedbox-api.js';
import type { WebApiContext } from '../src/web/web-api.js';
import { WebAuth, type WebCredentials } from '../src/web/web-auth.js';
import { startWebServer, type WebServer } from '../src/web/web-server.js';

const USER = 'admin';
const PASS = 'fleet view password';
const API_KEY = 'qbt_fleetfleetfleetfleetfleetfleet';
const NOW = 1_700_000_100_000;

let server: WebServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function fleetOf(): FleetView {
  const members = new FleetMembers();
  const start = NOW - 120_000;
  members.note({ kind: 'peer-worker', instance: 'pw1', version: '0.1.0', startedAt: start, sentAt: NOW - 1000, ready: true, leaving: false, figures: { torrents: 2, downloadRate: 5000, uploadRate: 70, peers: 3 } }, NOW - 1000);
  members.note({ kind: 'disk-writer', instance: 'dw1', version: '0.1.0', startedAt: start, sentAt: NOW - 30_000, ready: true, leaving: false, figures: { bytesPerSecond: 0 } }, NOW - 30_000);
  const history = new RateHistory();
  history.record(NOW - 2000, 4000, 60);
  history.record(NOW - 1000, 5000, 70);
  return { members: (now) => members.list(now), history: () => history.series() };
}

async function start(o: { creds?: WebCredentials; fleet?: FleetView | undefined } = {}): Promise<string> {
  const ctx: WebApiContext = {
    // Neither the login nor the fleet reads the backend.
    backend: {} as ControlBackend,
    auth: new WebAuth(o.creds ?? { username: USER, password: PASS, apiKeys: [API_KEY] }),
    dataDir: '/nowhere',
    version: '0.1.0-test',
    log: silentLogger,
    now: () => NOW,
    fetchTorrent: async () => {
      throw new Error('not here');
    },
    freeSpace: async () => 0,
    fleet: 'fleet' in o ? o.fleet : fleetOf(),
  };
  server = await startWebServer({ host: '127.0.0.1', port: 0, apis: [createQbittorrentApi(ctx), createSeedboxApi(ctx)], log: silentLogger });
  return `http://127.0.0.1:${server.port}`;
}

async function login(base: string): Promise<string> {
  const res = await fetch(`${base}/api/v2/auth/login`, { method: 'POST', body: new URLSearchParams({ username: USER, password: PASS }) });
  expect(await res.text()).toBe('Ok.');
  return res.headers.get('set-cookie')!.split(';', 1)[0]!;
}

describe('GET /api/seedbox/v1/fleet', () => {
  it('asks for the qBittorrent login: 403 without it, 200 with its cookie, an API key or Basic credentials', async () => {
    const base = await start();
    const url = `${base}/api/seedbox/v1/fleet`;
    const refused = await fetch(url);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toBe('Forbidden');
    expect((await fetch(url, { headers: { Authorization: `Basic ${Buffer.from(`${USER}:wrong`).toString('base64')}` } })).status).toBe(403);
    expect((await fetch(url, { headers: { Cookie: 'SID=forged.token.value' } })).status).toBe(403);
    // Unknown paths are refused the same way before the login: they say nothing of what exists.
    expect((await fetch(`${base}/api/seedbox/v1/nothing`)).status).toBe(403);

    const cookie = await login(base);
    expect((await fetch(url, { headers: { Cookie: cookie } })).status).toBe(200);
    expect((await fetch(url, { headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
    expect((await fetch(url, { headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` } })).status).toBe(200);
    // A page of another site may not read it with the browser's cookie.
    expect((await fetch(url, { headers: { Cookie: cookie, Origin: 'http://evil.example' } })).status).toBe(401);
  });

  it('answers the members, live and lost, with their figures, and the rate history as columns', async () => {
    const base = await start();
    const res = await fetch(`${base}/api/seedbox/v1/fleet`, { headers: { Cookie: await login(base) } });
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const answer = (await res.json()) as FleetAnswer;
    expect(answer.now).toBe(NOW);
    expect(answer.members).toEqual([
      {
        kind: 'peer-worker',
        instance: 'pw1',
        version: '0.1.0',
        status: 'live',
        left: false,
        ready: true,
        startedAt: NOW - 120_000,
        lastSeen: NOW - 1000,
        uptimeSeconds: 120,
        figures: { torrents: 2, downloadRate: 5000, uploadRate: 70, peers: 3 },
      },
      expect.objectContaining({ kind: 'disk-writer', instance: 'dw1', status: 'lost', lastSeen: NOW - 30_000, uptimeSeconds: 90 }),
    ]);
    expect(answer.history).toEqual({ t: [NOW / 1000 - 2, NOW / 1000 - 1], down: [4000, 5000], up: [60, 70] });
  });

  it('answers 404 for other paths and 405 for other methods once logged in, and 503 where no fleet view is kept', async () => {
    let base = await start();
    const auth = { Authorization: `Bearer ${API_KEY}` };
    expect((await fetch(`${base}/api/seedbox/v1/members`, { headers: auth })).status).toBe(404);
    const post = await fetch(`${base}/api/seedbox/v1/fleet`, { method: 'POST', headers: auth });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await server!.close();
    base = await start({ fleet: undefined });
    const none = await fetch(`${base}/api/seedbox/v1/fleet`, { headers: auth });
    expect(none.status).toBe(503);
    expect(await none.text()).toBe('This process keeps no fleet view');
  });

  it('lets everyone in when no credentials are configured, as the qBittorrent API does', async () => {
    const base = await start({ creds: {} });
    expect((await fetch(`${base}/api/seedbox/v1/fleet`)).status).toBe(200);
  });
});
