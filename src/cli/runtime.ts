// Pieces shared by the long-running commands: logger, config errors, components with start/stop, signals.
import pino, { type Logger } from 'pino';
import { ConfigError, loadConfig, type Config, type LoadConfigOptions } from '../config/index.ts';

export function createLogger(level: Config['logLevel']): Logger {
  return pino({ level, base: { service: 'stowage' } });
}

/** loadConfig, or print the message naming every bad variable and return null (the caller exits 1). */
export function loadConfigOrReport(env: Record<string, string | undefined>, opts: LoadConfigOptions): Config | null {
  try {
    return loadConfig(env, opts);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`stowage: ${err.message}\n`);
      return null;
    }
    throw err;
  }
}

/** A part of a running Stowage: started in order, stopped in reverse. */
export interface Component {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

// A signal that arrives while components are still starting must not kill the process half-way (leaving embedded
// Postgres behind): startAll catches it, and runUntilSignal acts on it as soon as it takes over.
let pendingSignal: NodeJS.Signals | null = null;
const earlyHandler = (signal: NodeJS.Signals) => {
  if (pendingSignal) process.exit(1); // a second signal while starting: give up at once
  pendingSignal = signal;
};
function catchSignalsEarly(): void {
  process.on('SIGINT', earlyHandler);
  process.on('SIGTERM', earlyHandler);
}
function releaseEarlySignals(): void {
  process.off('SIGINT', earlyHandler);
  process.off('SIGTERM', earlyHandler);
}

/** Starts components in order; if one fails, stops those already started and rethrows. */
export async function startAll(components: Component[], log: Logger): Promise<() => Promise<void>> {
  catchSignalsEarly();
  const started: Component[] = [];
  const stopAll = async () => {
    for (const c of [...started].reverse()) {
      try {
        await c.stop();
        log.debug({ component: c.name }, 'stopped');
      } catch (err) {
        log.error({ err, component: c.name }, 'stop failed');
      }
    }
    started.length = 0;
  };
  for (const c of components) {
    try {
      await c.start();
      started.push(c);
      log.debug({ component: c.name }, 'started');
    } catch (err) {
      log.error({ err, component: c.name }, 'start failed');
      await stopAll();
      releaseEarlySignals();
      throw err;
    }
  }
  return stopAll;
}

/** Resolves with the exit code once SIGINT/SIGTERM has stopped everything (a second signal forces exit). */
export function runUntilSignal(stop: () => Promise<void>, log: Logger, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        log.error({ timeoutMs }, 'shutdown timed out: exiting');
        process.exit(1);
      }, timeoutMs);
      timer.unref();
      stop().then(
        () => {
          clearTimeout(timer);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve(0);
        },
        (err) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    releaseEarlySignals();
    if (pendingSignal) onSignal(pendingSignal);
  });
}
