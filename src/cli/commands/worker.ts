// `stowage worker`: the background workers (storage event inbox, expiry sweeper with reconciliation, deletion
// outbox, orphan multipart sweeper, and the SQS consumer when SQS_QUEUE_URL is set) against DATABASE_URL and
// S3_ENDPOINT. Run as many as you like: work is claimed with FOR UPDATE SKIP LOCKED. (`stowage start` runs them too.)
import type { Command } from '../command.ts';
import { createLogger, loadConfigOrReport, runUntilSignal } from '../runtime.ts';
import { createDeps } from '../api-component.ts';
import { migrate } from '../../db/migrate.ts';
import { startWorkers } from '../../workers/runner.ts';
import type { Config } from '../../config/index.ts';

/** Config for commands that need Postgres and S3 but no API auth. Null (message printed) when incomplete. */
export function loadWorkerConfig(): Config | null {
  const config = loadConfigOrReport(process.env, { requireExternal: false });
  if (!config) return null;
  const missing = [!config.databaseUrl && 'DATABASE_URL', !config.s3.endpoint && 'S3_ENDPOINT'].filter(Boolean);
  if (missing.length > 0) {
    process.stderr.write(
      `stowage: ${missing.join(' and ')} must be set (the embedded Postgres/object store belong to \`stowage start\`, which runs the workers itself)\n`,
    );
    return null;
  }
  return config;
}

export const workerCommand: Command = {
  name: 'worker',
  summary:
    'Runs the background workers against DATABASE_URL and S3_ENDPOINT: storage events, expired uploads,\n' +
    'the object deletion outbox, orphan multipart uploads, and the SQS consumer when SQS_QUEUE_URL is set.',
  usage: 'stowage worker [--interval <seconds>]',
  flags: {
    interval: { type: 'string', value: 'seconds', description: 'pause between passes (default WORKER_INTERVAL_SECONDS, 30)' },
  },
  async run({ values }) {
    const config = loadWorkerConfig();
    if (!config) return 1;
    const log = createLogger(config.logLevel);
    const deps = createDeps(config, log);
    await migrate(deps.db, { log: (m) => log.info(m) });
    const interval = typeof values.interval === 'string' ? Number(values.interval) : undefined;
    if (interval !== undefined && !(interval > 0)) {
      process.stderr.write('stowage worker: --interval must be a positive number of seconds\n');
      return 2;
    }
    const workers = startWorkers(deps, interval ? { intervalMs: interval * 1000 } : {});
    return runUntilSignal(async () => {
      await workers.stop();
      await deps.db.end();
      deps.storage.destroy();
    }, log, config.shutdownTimeoutMs);
  },
};
