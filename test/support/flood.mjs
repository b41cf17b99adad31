#!/usr/bin/env node
/**
 * A connection flood against a peer port, for test/connection-flood.test.ts.
 *
 *   node flood.mjs --port PORT [--host 127.0.0.1] --sources 127.0.0.2,127.0.0.3,...
 *                  [--half-open 5000] [--half-open-seconds 6]
 *                  [--cycles 2000] [--cycles-at-ms 4500] [--cycle-concurrency 50]
 *                  [--connect-timeout-ms 10000] [--hold-ms 12000]
 *
 * Two attacks at once, as a public port gets them:
 *
 * - half-open: HALF_OPEN connections that connect and then send nothing,
 *   opened at an even pace over --half-open-seconds and each held until the
 *   other side closes it (or --hold-ms after the start). They come from
 *   one source address after the other (HALF_OPEN / sources each), so that
 *   each address runs into the per-address cap, and all of them together
 *   keep the handshaking slots full for the whole time.
 * - cycles: a burst of CYCLES connections that connect and close at once,
 *   at most --cycle-concurrency at a time, the source addresses taken in
 *   turn, started --cycles-at-ms after the start.
 *
 * Needs a file descriptor for each socket: start it with a raised limit
 * (`prlimit --nofile=20000:20000 node flood.mjs ...`). Prints JSON lines:
 * `start` (with its own descriptor limit), `cycles-done`, `holding` once
 * every half-open connection has connected or failed, and `done` with the
 * counts. Exits by itself when
 * its parent goes away, and after 90 s whatever happens.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setInterval } from 'node:timers';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    sources: { type: 'string' },
    'half-open': { type: 'string', default: '5000' },
    'half-open-seconds': { type: 'string', default: '6' },
    cycles: { type: 'string', default: '2000' },
    'cycles-at-ms': { type: 'string', default: '4500' },
    'cycle-concurrency': { type: 'string', default: '50' },
    'connect-timeout-ms': { type: 'string', default: '10000' },
    'hold-ms': { type: 'string', default: '12000' },
  },
});
const host = values.host;
const port = Number(values.port);
const sources = (values.sources ?? '').split(',').filter(Boolean);
const halfOpen = Number(values['half-open']);
const halfOpenMs = Number(values['half-open-seconds']) * 1000;
const cycles = Number(values.cycles);
const cyclesAtMs = Number(values['cycles-at-ms']);
const cycleConcurrency = Number(values['cycle-concurrency']);
const connectTimeoutMs = Number(values['connect-timeout-ms']);
const holdMs = Number(values['hold-ms']);
if (!Number.isInteger(port) || port <= 0 || sources.length === 0) {
  console.log(JSON.stringify({ event: 'error', error: 'usage: flood.mjs --port PORT --sources ADDR,ADDR,...' }));
  process.exit(2);
}

const say = (o) => console.log(JSON.stringify({ time: Date.now(), ...o }));
const started = Date.now();

// The parent (the test) gone, or far too long: nothing here may outlive it.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(3);
}, 500).unref();
setTimeout(() => {
  say({ event: 'error', error: 'still running after 90 s' });
  process.exit(4);
}, 90_000).unref();

function nofile() {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return line ? Number(line.split(/\s+/)[3]) : undefined;
}

/**
 * One connection from `localAddress`. Resolves once it has connected or
 * failed ('connected', 'failed'); `closed` resolves when the socket is gone,
 * with who closed it and how long after connecting.
 */
function open(localAddress) {
  const socket = connect({ host, port, localAddress });
  let connectedAt;
  let byUs = false;
  const closed = new Promise((resolve) => {
    socket.once('close', () => resolve({ byServer: connectedAt !== undefined && !byUs, heldMs: connectedAt === undefined ? 0 : Date.now() - connectedAt }));
  });
  // A reset from the other side is how a refusal can look: not an error here.
  socket.on('error', () => {});
  // The other side closing is the answer we wait for: close ours too.
  socket.on('end', () => socket.destroy());
  const timer = setTimeout(() => {
    byUs = true;
    socket.destroy();
  }, connectTimeoutMs);
  const ready = new Promise((resolve) => {
    socket.once('connect', () => {
      clearTimeout(timer);
      connectedAt = Date.now();
      resolve('connected');
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('failed');
    });
  });
  return {
    ready,
    closed,
    close() {
      byUs = true;
      socket.destroy();
    },
  };
}

say({ event: 'start', nofile: nofile(), halfOpen, cycles, sources: sources.length });

// ---------------------------------------------------------------- half-open
const STEP_MS = 20;
const perSource = Math.ceil(halfOpen / sources.length);
const held = [];
async function openHalfOpen() {
  const steps = Math.max(1, Math.round(halfOpenMs / STEP_MS));
  for (let step = 1; held.length < halfOpen; step++) {
    const upTo = Math.min(halfOpen, Math.round((halfOpen * step) / steps));
    while (held.length < upTo) held.push(open(sources[Math.floor(held.length / perSource)]));
    await sleep(Math.max(0, started + step * STEP_MS - Date.now()));
  }
  const ready = await Promise.all(held.map((c) => c.ready));
  const connected = ready.filter((r) => r === 'connected').length;
  say({ event: 'holding', connected, failed: halfOpen - connected, seconds: (Date.now() - started) / 1000 });
  return connected;
}

// ---------------------------------------------------------------- cycles
let next = 0;
const cycleCounts = { connected: 0, failed: 0, closedByServerFirst: 0 };
async function cycler() {
  while (next < cycles) {
    const i = next++;
    const c = open(sources[i % sources.length]);
    if ((await c.ready) === 'connected') cycleCounts.connected++;
    else cycleCounts.failed++;
    c.close();
    if ((await c.closed).byServer) cycleCounts.closedByServerFirst++;
  }
}
async function burst() {
  await sleep(cyclesAtMs);
  const cyclesStarted = Date.now();
  await Promise.all(Array.from({ length: cycleConcurrency }, cycler));
  say({ event: 'cycles-done', ...cycleCounts, seconds: (Date.now() - cyclesStarted) / 1000, at: (cyclesStarted - started) / 1000 });
}

const [connected] = await Promise.all([openHalfOpen(), burst()]);

// ---------------------------------------------------------------- the end of the half-open ones
// Those the other side took are closed at its handshake deadline; give up on any left after --hold-ms.
const giveUp = setTimeout(() => held.forEach((c) => c.close()), Math.max(0, holdMs - (Date.now() - started)));
const ends = await Promise.all(held.map((c) => c.closed));
clearTimeout(giveUp);
const byServer = ends.filter((e) => e.byServer);
const halfOpenCounts = {
  attempted: halfOpen,
  connected,
  closedByServer: byServer.length,
  // Closed within a second: refused at once. Held for seconds: taken, then closed at the deadline.
  closedWithin1s: byServer.filter((e) => e.heldMs < 1000).length,
  heldOver1s: byServer.filter((e) => e.heldMs >= 1000).length,
  longestHeldMs: Math.max(0, ...byServer.map((e) => e.heldMs)),
  stillOpenAtGiveUp: connected - byServer.length,
};
say({ event: 'done', halfOpen: halfOpenCounts, cycles: { attempted: cycles, ...cycleCounts }, seconds: (Date.now() - started) / 1000 });
process.exit(0);
