// `stowage cleanup --once`: one pass of every worker duty, then prints what it did. With --reconcile <workspace>,
// also compares that workspace's prefix with the database and reports (optionally fixes) the differences.
import type { Command } from '../command.ts';
import { createLogger } from '../runtime.ts';
import { createDeps } from '../api-component.ts';
import { migrate } from '../../db/migrate.ts';
import { formatCleanupResult, runCleanupOnce } from '../../services/cleanup.ts';
import { reconcileWorkspace } from '../../services/reconcile.ts';
import { loadWorkerConfig } from './worker.ts';

export const cleanupCommand: Command = {
  name: 'cleanup',
  summary:
    'Runs one cleanup pass (storage events, expired uploads, deletion outbox, orphan multipart uploads) and prints\n' +
    'what it did. --reconcile <workspace> lists that workspace\'s objects and reports objects without a row and\n' +
    'rows whose object is gone (--delete-orphans removes orphans older than --grace-seconds; --mark-missing marks rows).',
  usage: 'stowage cleanup --once [--workspace <id>] [--reconcile <workspace>] [--delete-orphans] [--mark-missing] [--grace-seconds <n>] [--json]',
  flags: {
    once: { type: 'boolean', description: 'run one pass and exit (the default; `stowage worker` keeps running)' },
    workspace: { type: 'string', value: 'id', description: 'only this workspace\'s uploads, deletions and multipart uploads' },
    reconcile: { type: 'string', value: 'workspace', description: 'reconcile this workspace\'s prefix with the database' },
    'delete-orphans': { type: 'boolean', description: 'with --reconcile: delete objects without a live row older than the grace period' },
    'mark-missing': { type: 'boolean', description: 'with --reconcile: mark available files whose object is gone as missing' },
    'grace-seconds': { type: 'string', value: 'n', description: 'age before an orphan object may be deleted (default 86400)' },
    'multipart-grace-seconds': { type: 'string', value: 'n', description: 'age before an unknown multipart upload is aborted (default 3600)' },
    json: { type: 'boolean', description: 'print the result as JSON' },
  },
  async run({ values }) {
    const config = loadWorkerConfig();
    if (!config) return 1;
    const log = createLogger(process.env.LOG_LEVEL ? config.logLevel : 'warn');
    const deps = createDeps(config, log);
    try {
      await migrate(deps.db);
      const num = (v: unknown) => (typeof v === 'string' ? Number(v) : undefined);
      const result = await runCleanupOnce(deps, {
        multipartGraceSeconds: num(values['multipart-grace-seconds']),
        workspaceId: typeof values.workspace === 'string' ? values.workspace : undefined,
      });
      const reconcile = typeof values.reconcile === 'string'
        ? await reconcileWorkspace(deps, values.reconcile, {
            deleteOrphans: values['delete-orphans'] === true,
            markMissing: values['mark-missing'] === true,
            graceSeconds: num(values['grace-seconds']),
          })
        : null;
      if (values.json) {
        process.stdout.write(JSON.stringify({ ...result, reconcile }, null, 2) + '\n');
      } else {
        process.stdout.write(formatCleanupResult(result) + '\n');
        if (reconcile) {
          process.stdout.write(
            `reconcile ${reconcile.workspaceId}: ${reconcile.objectsListed} objects listed, ` +
              `${reconcile.orphanCount} without a live row (${reconcile.orphansDeleted} deleted), ` +
              `${reconcile.missingCount} rows whose object is gone (${reconcile.markedMissing} marked missing)\n`,
          );
          for (const o of reconcile.orphanObjects) process.stdout.write(`  orphan  ${o.key}  ${o.size} B  ${o.lastModified ?? ''}${o.row ? `  (row ${o.row})` : ''}\n`);
          for (const m of reconcile.missingObjects) process.stdout.write(`  missing ${m.key}  file ${m.fileId}\n`);
        }
      }
      return result.errors.length > 0 ? 1 : 0;
    } finally {
      await deps.db.end();
      deps.storage.destroy();
    }
  },
};
