// Loaded into `seedbox serve` with `node --import bench/probe.mjs` by the
// speed-limit scenario: at exit it prints the delay of serve's event loop
// (p50, p99, max in ms), the loop the peer connections, the shaper's timers
// and the gRPC control API all run on, which bounds how long any callback,
// a control call's included, waits to run.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
process.on('exit', () => {
  delay.disable();
  const ms = (ns) => Number((ns / 1e6).toFixed(2));
  process.stderr.write(`LOOPDELAY ${JSON.stringify({ p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) })}\n`);
});
