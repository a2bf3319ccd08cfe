// `stowage serve`: the API against external Postgres and S3 (everything from the environment).
import type { Command } from '../command.ts';
import { createLogger, loadConfigOrReport, runUntilSignal, startAll } from '../runtime.ts';
import { apiComponent } from '../api-component.ts';

export const serveCommand: Command = {
  name: 'serve',
  summary:
    'Runs the HTTP API against DATABASE_URL and S3_ENDPOINT (migrations are applied at start).\n' +
    'Requires DATABASE_URL, S3_ENDPOINT, S3 credentials (or the SDK default chain) and AUTH_JWT_SECRET or AUTH_JWKS_URL.',
  usage: 'stowage serve',
  flags: {},
  async run() {
    const config = loadConfigOrReport(process.env, { requireExternal: true });
    if (!config) return 1;
    const log = createLogger(config.logLevel);
    const stop = await startAll(
      [apiComponent(() => config, log, { onStarted: (rt) => log.info({ url: rt.url }, 'Stowage API listening') })],
      log,
    );
    return runUntilSignal(stop, log, config.shutdownTimeoutMs);
  },
};
