/**
 * The fleet view end to end (issue 16): a fleet of real processes (two
 * peer-workers, two disk-writers, the tracker-client) on a real
 * nats-server, each sending its heartbeat every 2 s. GET
 * /api/seedbox/v1/fleet on either peer-worker, behind the web login,
 * lists every one of them live with its kind and figures, and the rate
 * history grows a point a second; a disk-writer stopped with SIGTERM says
 * goodbye and is lost at once, one killed with SIGKILL is lost once 10 s
 * pass without its heartbeat.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFleet } from './support/fleet.js';
import { startNatsServer } from './support/nats.js';
import { cleanupAfter, cleanupAll, cleanupMark, waitFor } from './support/processes.js';
import { needTools, tools } from './support/tools.js';

const need = needTools(tools.natsServer);

let mark = 0;
beforeEach(() => {
  mark = cleanupMark();
});
afterEach(() => cleanupAfter(mark));
afterAll(cleanupAll);

const USER = 'fleet';
const PASS = 'a fleet view password';
const BASIC = { Authorization: `Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}` };

interface Member {
  kind: string;
  instance: string;
  status: 'live' | 'lost';
  left: boolean;
  ready: true | string;
  version: string;
  uptimeSeconds: number;
  figures: Record<string, number>;
}
interface Answer {
  now: number;
  members: Member[];
  history: { t: number[]; down: number[]; up: number[] };
}

describe.skipIf(!need.available)('the fleet view over NATS heartbeats', () => {
  it('lists every service process live on any peer-worker, and a stopped or killed disk-writer as lost', async () => {
    const nats = await startNatsServer();
    const fleet = await startFleet({ natsUrl: nats.url, peerWorkers: 2, diskWriters: 2, env: { SEEDBOX_WEB_USERNAME: USER, SEEDBOX_WEB_PASSWORD: PASS } });
    const url = (i: number) => `http://127.0.0.1:${fleet.peerWorkers[i]!.webPort}/api/seedbox/v1/fleet`;
    const read = async (i: number): Promise<Answer> => {
      const res = await fetch(url(i), { headers: BASIC });
      expect(res.status).toBe(200);
      return (await res.json()) as Answer;
    };
    const byName = (a: Answer) => new Map(a.members.map((m) => [`${m.kind}/${m.instance}`, m]));
    const everyone = ['peer-worker/pw1', 'peer-worker/pw2', 'disk-writer/dw1', 'disk-writer/dw2', 'tracker-client/tc1'];

    // Behind the login.
    expect((await fetch(url(0))).status).toBe(403);

    // Every process, on both replicas, live and ready, with its kind's figures (a worker started last has heard them within 2 s).
    for (const i of [0, 1]) {
      await waitFor(
        async () => {
          const m = byName(await read(i));
          return everyone.every((k) => m.get(k)?.status === 'live' && m.get(k)?.ready === true);
        },
        20_000,
        `every member live and ready on pw${i + 1}`,
        { intervalMs: 500, watch: fleet.all().map((p) => p.process) },
      );
    }
    const first = await read(0);
    expect(first.members.map((m) => `${m.kind}/${m.instance}`)).toEqual(everyone);
    const m = byName(first);
    expect(Object.keys(m.get('peer-worker/pw2')!.figures).sort()).toEqual(['downloadRate', 'peers', 'torrents', 'uploadRate']);
    expect(Object.keys(m.get('disk-writer/dw1')!.figures).sort()).toEqual(['bytesPerSecond', 'failedPieces', 'piecesInProgress', 'piecesPerSecond']);
    // Its DHT node knows nobody: the tests give it no routers.
    expect(m.get('tracker-client/tc1')!.figures).toEqual({ torrentsAnnounced: 0, announcers: 0, dhtNodes: 0 });
    for (const x of first.members) {
      expect(x.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(x.uptimeSeconds).toBeGreaterThanOrEqual(0);
    }

    // The rates, a point a second, from the figures every worker publishes: kept by each replica since its start.
    const before = first.history.t.length;
    await waitFor(async () => (await read(0)).history.t.length >= before + 2, 10_000, 'the history to grow');
    const h = (await read(1)).history;
    expect(h.t.length).toBeGreaterThan(0);
    expect(h.down).toHaveLength(h.t.length);
    expect(h.t.every((t, i) => i === 0 || t > h.t[i - 1]!)).toBe(true);
    expect(h.t.at(-1)! * 1000).toBeGreaterThan(Date.now() - 5000);

    // SIGTERM: its last heartbeat says goodbye, so it is lost at once, not 10 s later.
    const dw2 = fleet.diskWriters[1]!;
    await dw2.process.stop(10_000);
    const stopped = byName(await read(0)).get('disk-writer/dw2');
    expect(stopped).toMatchObject({ status: 'lost', left: true });

    // SIGKILL: no goodbye; lost once 10 s pass without a heartbeat, the others still live.
    const dw1 = fleet.diskWriters[0]!;
    dw1.process.child.kill('SIGKILL');
    await dw1.process.exited;
    expect(byName(await read(0)).get('disk-writer/dw1')!.status).toBe('live');
    await waitFor(async () => byName(await read(0)).get('disk-writer/dw1')?.status === 'lost', 20_000, 'dw1 lost', { intervalMs: 500 });
    const after = byName(await read(1));
    expect(after.get('disk-writer/dw1')).toMatchObject({ status: 'lost', left: false });
    expect(['peer-worker/pw1', 'peer-worker/pw2', 'tracker-client/tc1'].every((k) => after.get(k)?.status === 'live')).toBe(true);

    await fleet.stop();
  }, 120_000);
});
