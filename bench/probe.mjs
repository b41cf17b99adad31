// Loaded into our client with `node --import bench/probe.mjs` by the
// speed-limit scenario: a stand-in for the control API inside the limited
// process, since `seedbox download` serves none. It answers HTTP requests
// on 127.0.0.1 (the bench times them: a round trip through the same event
// loop the peer connections and the shaper's timers run on), and at exit
// prints that event loop's delay (p50, p99, max in ms), which bounds how
// long any callback, a gRPC call's included, waits to run.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const server = createServer((_req, res) => res.end('ok'));
server.listen(0, '127.0.0.1', () => process.stderr.write(`PROBE ${server.address().port}\n`));
// The client's own work decides when it exits, not the probe.
server.unref();
process.on('exit', () => {
  delay.disable();
  const ms = (ns) => Number((ns / 1e6).toFixed(2));
  process.stderr.write(`LOOPDELAY ${JSON.stringify({ p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) })}\n`);
});
