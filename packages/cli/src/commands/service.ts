type ServiceName = 'peer-worker' | 'disk-writer' | 'tracker-client';

/**
 * `seedbox peer-worker|disk-writer|tracker-client`: the same process as
 * `node services/<name>/dist/main.js`. It runs until SIGTERM/SIGINT, and
 * runService exits the process itself (0 after a clean shutdown, 1 for a
 * bad configuration value), so the promise never settles. The services are
 * imported only here, so `seedbox inspect` does not load them.
 */
export function serviceCommand(name: ServiceName): (argv: string[]) => Promise<number> {
  return async (argv) => {
    const { runService } = await import('@seedbox/cluster');
    if (name === 'peer-worker') await runService((await import('@seedbox/peer-worker')).peerWorkerService, { argv });
    else if (name === 'disk-writer') await runService((await import('@seedbox/disk-writer')).diskWriterService, { argv });
    else await runService((await import('@seedbox/tracker-client')).trackerClientService, { argv });
    return new Promise<number>(() => {});
  };
}
