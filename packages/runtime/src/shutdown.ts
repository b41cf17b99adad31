import type { Logger } from './log.js';

/**
 * Graceful shutdown on SIGTERM (Kubernetes) and SIGINT (a terminal): run the
 * service's steps in order (say not-ready, stop taking work, drain, close
 * connections), then exit 0. Kubernetes sends SIGKILL after its grace
 * period, so the timeout here (shorter than that) exits 1 first with a log
 * line saying which step hung, rather than dying silently.
 */

export interface ShutdownStep {
  name: string;
  run: () => Promise<void>;
}

/** Where signals come from; process by default, an EventEmitter in tests. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownOptions {
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  timeoutMs: number;
  steps: readonly ShutdownStep[];
  exit?: (code: number) => void;
  signals?: readonly NodeJS.Signals[];
  source?: SignalSource;
}

/**
 * Starts the shutdown (as a signal would); resolves with the exit code once
 * exit has been called, whether the steps finished, timed out or a second
 * signal cut them short.
 */
export type ShutdownTrigger = ((reason?: string) => Promise<number>) & {
  /** Remove the signal listeners (tests, or a service handing shutdown to something else). */
  uninstall(): void;
};

export function installShutdown(options: ShutdownOptions): ShutdownTrigger {
  const { logger, timeoutMs, steps } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? (['SIGTERM', 'SIGINT'] as const);
  const source: SignalSource = options.source ?? process;

  let started = false;
  let exited = false;
  let currentStep: string | undefined;
  let resolveDone: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (resolveDone = resolve));
  const finish = (code: number): void => {
    if (exited) return;
    exited = true;
    try {
      exit(code);
    } finally {
      resolveDone(code);
    }
  };

  const run = async (reason: string): Promise<void> => {
    logger.info('shutting down', { reason, timeoutMs, steps: steps.map((s) => s.name) });
    // Deliberately not unref'd: if a step hangs on something that holds no
    // handle, an unref'd timer would let Node exit 0 as if all went well.
    const timer = setTimeout(() => {
      logger.error('shutdown timed out', { timeoutMs, step: currentStep });
      finish(1);
    }, timeoutMs);
    try {
      for (const step of steps) {
        if (exited) return;
        currentStep = step.name;
        const stepStart = performance.now();
        logger.info('shutdown step', { step: step.name });
        try {
          await step.run();
          logger.info('shutdown step done', { step: step.name, durationMs: Math.round(performance.now() - stepStart) });
        } catch (err) {
          // One broken step (a NATS drain that fails) must not keep the
          // others (closing the HTTP server) from running.
          logger.error('shutdown step failed', { step: step.name, err });
        }
      }
      currentStep = undefined;
      if (exited) return;
      logger.info('shutdown complete');
      finish(0);
    } finally {
      clearTimeout(timer);
    }
  };

  const trigger = (reason = 'requested'): Promise<number> => {
    if (!started) {
      started = true;
      // run() logs its own failures; nothing can reject here.
      void run(reason);
    }
    return done;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (!started) {
      void trigger(signal);
      return;
    }
    // The operator pressed Ctrl-C twice, or Kubernetes lost patience: stop now.
    logger.warn('second signal during shutdown, exiting now', { signal, step: currentStep });
    finish(1);
  };
  for (const s of signals) source.on(s, onSignal);

  return Object.assign(trigger, {
    uninstall: () => {
      for (const s of signals) source.off(s, onSignal);
    },
  });
}
