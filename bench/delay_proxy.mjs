#!/usr/bin/env node
// A TCP proxy that delays every byte by --delay-ms in each direction, for the
// high-latency benchmark (the kernel here has no netem). Each accepted
// connection gets its own connection to --target; whatever arrives on one
// side is written to the other --delay-ms later, in arrival order. Nothing
// limits throughput but the delay itself: delayed data is held in memory
// for as long as it takes (rate x delay bytes), and a side is paused only
// when the socket it is written to pushes back (the real link is slower).
//
//   node bench/delay_proxy.mjs --listen HOST:PORT --target HOST:PORT [--delay-ms 25]
//
// Prints "PROXY PORT" once listening (PORT 0 picks a free one). The TCP
// handshake itself is not delayed, only the data and the closing FIN.
// With DELAY_PROXY_TRACE=FILE, every 100 ms it appends to FILE the time
// since the first byte and the MiB sent towards the leeches by then (the
// ramp of each client, and the seed's pauses, side by side).
import { connect, createServer } from 'node:net';
import { appendFileSync } from 'node:fs';
import { setInterval } from 'node:timers';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { listen: { type: 'string' }, target: { type: 'string' }, 'delay-ms': { type: 'string', default: '25' } },
});
const hostPort = (s) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};
if (!values.listen || !values.target) {
  console.error('usage: delay_proxy.mjs --listen HOST:PORT --target HOST:PORT [--delay-ms N]');
  process.exit(2);
}
const listen = hostPort(values.listen);
const target = hostPort(values.target);
const delay = Number(values['delay-ms']);
// Node's timers fire on whole milliseconds and rather late than early: send
// what is due within this much, so that the mean delay is `delay`, not delay + 1.
const SLACK = 1;
// DELAY_PROXY_TRACE=FILE: every 100 ms, the milliseconds since the first byte and the MiB sent towards the leeches by then.
const trace = process.env.DELAY_PROXY_TRACE;
let traced = 0;
if (trace) {
  let start = 0;
  setInterval(() => {
    if (traced === 0) return;
    start ||= performance.now();
    appendFileSync(trace, `${Math.round(performance.now() - start)} ${(traced / 1048576).toFixed(1)}\n`);
  }, 100).unref();
}

/** Forwards `from` to `to`, each chunk `delay` ms after it arrived. */
function forward(from, to) {
  let queue = []; // [due time, chunk | null for end-of-stream]
  let head = 0;
  let timer = null;
  const flush = () => {
    timer = null;
    const now = performance.now();
    if (to.destroyed) return;
    to.cork();
    while (head < queue.length && queue[head][0] <= now + SLACK) {
      const chunk = queue[head][1];
      queue[head++] = undefined;
      if (chunk === null) to.end();
      else {
        to.write(chunk);
        if (trace && from.remotePort === target.port) traced += chunk.length;
      }
    }
    to.uncork();
    if (head > 1024 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    if (head < queue.length) timer = setTimeout(flush, Math.max(0, queue[head][0] - now - SLACK));
  };
  const push = (item) => {
    queue.push([performance.now() + delay, item]);
    if (!timer) timer = setTimeout(flush, Math.max(0, queue[head][0] - performance.now() - SLACK));
  };
  from.on('data', (chunk) => {
    push(chunk);
    // Back-pressure from the far side only: never from the delay queue.
    if (to.writableNeedDrain) from.pause();
  });
  to.on('drain', () => from.resume());
  from.on('end', () => push(null));
}

const server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const upstream = connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
  const kill = () => {
    // An abrupt close travels with the same delay as the data before it.
    setTimeout(() => {
      client.destroy();
      upstream.destroy();
    }, delay + 5);
  };
  client.on('error', kill);
  upstream.on('error', kill);
  client.on('close', kill);
  upstream.on('close', kill);
  forward(client, upstream);
  forward(upstream, client);
});
server.listen(listen.port, listen.host, () => console.log(`PROXY ${server.address().port}`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
