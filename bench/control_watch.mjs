// The gRPC control API as the many-torrents scenario uses it: one client,
// adds with a bounded number in flight, and a WatchTorrents stream that
// keeps the latest figures of every torrent so that "how many are seeding"
// is a look-up, not a ListTorrents of 10,000 torrents a few times a second.
import * as grpc from '@grpc/grpc-js';
import { SeedboxControlClient, TorrentState } from '@seedbox/proto';

export function controlClient(port) {
  // No cap on what comes back: the figures are the server's, whatever a
  // list of 10,000 torrents weighs (the CLI's own cap is measured apart).
  const client = new SeedboxControlClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  const rpc = (method, req = {}) => new Promise((res, rej) => client[method](req, (e, r) => (e ? rej(e) : res(r))));
  return { client, rpc, close: () => client.close() };
}

/**
 * Adds every file's bytes, `concurrency` calls in flight, or as many as it
 * can until `deadline` (performance.now() time; `capped` then says so, and
 * `count` how many were asked). Resolves with the time taken, the adds per
 * second over each tenth of them (does an add cost more as the registry
 * grows?) and the failures: their count and the first few, as the server
 * put them (code and details). Says how far it got every 10 s.
 */
export async function addAll(rpc, files, { concurrency = 16, batch = 0, progress, stopped = () => false, deadline = Infinity } = {}) {
  const errors = [];
  let failed = 0;
  let next = 0;
  let answered = 0;
  const t0 = performance.now();
  const tenth = Math.max(1, Math.floor(files.length / 10));
  const marks = [];
  let said = t0;
  const worker = async () => {
    // Stopped (Ctrl-C): the server is going away, and adds failing against it would only muddle the figures.
    while (next < files.length && !stopped() && performance.now() < deadline) {
      const refused = (text) => {
        failed++;
        if (errors.length < 5 && !errors.includes(text)) errors.push(text);
      };
      // One AddTorrent per file, or (batch > 0) AddTorrents of `batch` files, as `seedbox add` sends them.
      const take = files.slice(next, next + Math.max(1, batch));
      next += take.length;
      try {
        if (batch > 0) {
          const r = await rpc('addTorrents', { torrents: take.map((torrentFile) => ({ torrentFile, paused: false })) });
          for (const x of r.results) if (x.failure) refused(`${grpc.status[x.failure.code] ?? x.failure.code}: ${x.failure.message}`);
        } else await rpc('addTorrent', { torrentFile: take[0], paused: false });
      } catch (e) {
        for (let i = 0; i < take.length; i++) refused(`${grpc.status[e.code] ?? e.code}: ${e.details ?? e.message}`);
      }
      const now = performance.now();
      for (let i = 0; i < take.length; i++) if (++answered % tenth === 0) marks.push(now);
      if (now - said >= 10_000) {
        said = now;
        progress?.(`${answered}/${files.length} added after ${((now - t0) / 1000).toFixed(0)} s${failed ? ` (${failed} failed)` : ''}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const perTenth = marks.map((m, i) => Number((tenth / ((m - (marks[i - 1] ?? t0)) / 1000)).toFixed(1)));
  return { count: answered, capped: answered < files.length, failed, seconds: Number(seconds.toFixed(2)), perSecond: Number((answered / seconds).toFixed(1)), perTenth, errors };
}

const NAMES = Object.fromEntries(Object.entries(TorrentState).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k.replace('TORRENT_STATE_', '').toLowerCase()]));

/** Complete and serving: every byte verified, and neither checking nor failed. */
const isSeeding = (s) => s.pieceCount > 0 && s.leftBytes === 0 && s.state !== TorrentState.TORRENT_STATE_CHECKING && s.state !== TorrentState.TORRENT_STATE_ERROR;

/**
 * Follows WatchTorrents with changes_only: every torrent's figures first
 * (`full`), then each tick those that changed and the info hashes of those
 * gone (`removed`), merged into one map. A stream the server ends (its "no
 * statistics for 10 s", a restart) is opened again, and its first message,
 * full, replaces the map. `everChecking` collects the torrents ever seen
 * checking.
 */
export function follow(client) {
  const latest = new Map();
  const everChecking = new Set();
  let seeding = 0;
  let call;
  let closed = false;
  let lastError;
  const open = () => {
    if (closed) return;
    try {
      call = client.watchTorrents({ infoHashes: [], changesOnly: true });
    } catch (e) {
      // The client was closed under us (Ctrl-C, the end of the run): nothing more to follow.
      lastError = e.message;
      return;
    }
    call.on('data', (m) => {
      if (m.full) {
        latest.clear();
        seeding = 0;
      }
      for (const h of m.removed) {
        const was = latest.get(h);
        if (was && isSeeding(was)) seeding--;
        latest.delete(h);
      }
      for (const s of m.stats) {
        const was = latest.get(s.infoHash);
        if (was && isSeeding(was)) seeding--;
        if (isSeeding(s)) seeding++;
        if (s.state === TorrentState.TORRENT_STATE_CHECKING) everChecking.add(s.infoHash);
        latest.set(s.infoHash, s);
      }
    });
    call.on('error', (e) => {
      if (e.code === grpc.status.CANCELLED) return;
      lastError = `${grpc.status[e.code] ?? e.code}: ${e.details ?? e.message}`;
      setTimeout(open, 500);
    });
  };
  open();
  return {
    seeding: () => seeding,
    everChecking,
    /** How many torrents are in each state, by the latest figures. */
    states() {
      const out = {};
      for (const s of latest.values()) {
        const k = isSeeding(s) ? 'seeding' : (NAMES[s.state] ?? String(s.state));
        out[k] = (out[k] ?? 0) + 1;
      }
      return out;
    },
    /** The torrents' errors, as the figures say them (at most `max` distinct). */
    errors(max = 5) {
      return [...new Set([...latest.values()].filter((s) => s.error).map((s) => s.error))].slice(0, max);
    },
    lastError: () => lastError,
    /**
     * Resolves when `count` are seeding, with the seconds since `since`;
     * or, after `timeoutMs`, with seconds null. Says how far it got every 10 s.
     */
    async waitSeeding(count, { since, timeoutMs, progress, stopped = () => false }) {
      let said = performance.now();
      for (;;) {
        if (stopped()) throw new Error('stopping');
        const now = performance.now();
        if (seeding >= count) return { seconds: (now - since) / 1000, seeding };
        if (now - since > timeoutMs) return { seconds: null, seeding };
        if (now - said >= 10_000) {
          said = now;
          progress?.(`${seeding}/${count} seeding after ${((now - since) / 1000).toFixed(0)} s ${JSON.stringify(this.states())}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    close() {
      closed = true;
      call?.cancel();
    },
  };
}

/** Milliseconds from opening WatchTorrents to its first message. */
export function firstWatchMessage(client, timeoutMs = 30_000) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const call = client.watchTorrents({ infoHashes: [], changesOnly: true });
    const timer = setTimeout(() => {
      call.cancel();
      rej(new Error(`no WatchTorrents message in ${timeoutMs / 1000} s`));
    }, timeoutMs);
    call.once('data', () => {
      const ms = performance.now() - t0;
      clearTimeout(timer);
      call.cancel();
      res(ms);
    });
    call.on('error', (e) => {
      if (e.code === grpc.status.CANCELLED) return;
      clearTimeout(timer);
      rej(e);
    });
  });
}
