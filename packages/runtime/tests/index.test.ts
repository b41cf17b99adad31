import { describe, expect, it } from 'vitest';
import * as runtime from '@seedbox/runtime';

describe('@seedbox/runtime public surface', () => {
  it('resolves through the workspace and exports every part', () => {
    for (const name of [
      'loadConfig',
      'configHelp',
      'ConfigError',
      'commonOptions',
      'peerWorkerOptions',
      'diskWriterOptions',
      'trackerClientOptions',
      'createLogger',
      'startObservabilityServer',
      'createCommonMetrics',
      'createPeerWorkerMetrics',
      'createDiskWriterMetrics',
      'createTrackerClientMetrics',
      'exportedMetricNames',
      'HealthService',
      'startGrpcServer',
      'installShutdown',
    ]) {
      expect(runtime, name).toHaveProperty(name);
    }
  });
});
