// `stowage workspace create|show|set-limits`: the admin side, straight to the database (DATABASE_URL, or the embedded
// Postgres in STOWAGE_DATA_DIR while `stowage start` is not running). There is deliberately no admin HTTP route: the
// API only ever acts for the workspace in the caller's token, so limits are changed by whoever holds the database.
import path from 'node:path';
import type { Command } from '../command.ts';
import { UsageError } from '../args.ts';
import { loadConfigOrReport } from '../runtime.ts';
import { createPool, type Db } from '../../db/pool.ts';
import { migrate } from '../../db/migrate.ts';
import { ensureWorkspace, getWorkspace, setWorkspaceLimits, type WorkspaceRow } from '../../db/workspaces.ts';
import { startEmbeddedPostgres } from '../../db/embedded.ts';
import { isValidWorkspaceId } from '../../domain/keys.ts';
import type { WorkspaceDefaults } from '../../config/index.ts';
import { loadOrCreateDevSecrets } from '../secrets.ts';
import { formatBytes, parseSize, table } from '../client-cli.ts';

type Values = Record<string, string | boolean | undefined>;

function limitsFrom(values: Values): Partial<WorkspaceDefaults> {
  const out: Partial<WorkspaceDefaults> = {};
  const count = (v: unknown, flag: string) => {
    if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`${flag} must be a whole number`);
    return Number(v);
  };
  if (typeof values['max-file-size'] === 'string') out.maxFileSize = parseSize(values['max-file-size'], '--max-file-size');
  if (out.maxFileSize === 0) throw new UsageError('--max-file-size must be at least 1 byte');
  if (typeof values.quota === 'string') out.quotaBytes = parseSize(values.quota, '--quota');
  if (values['max-files'] !== undefined) out.maxFiles = count(values['max-files'], '--max-files');
  if (values['max-pending'] !== undefined) out.maxPending = count(values['max-pending'], '--max-pending');
  if (typeof values['allowed-types'] === 'string') {
    const types = values['allowed-types'].split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const bad = types.filter((t) => t !== '*/*' && !/^[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/.test(t));
    if (types.length === 0 || bad.length > 0) throw new UsageError(`--allowed-types: invalid content type(s): ${bad.join(', ') || '(none)'}`);
    out.allowedContentTypes = types;
  }
  return out;
}

function view(w: WorkspaceRow) {
  return {
    id: w.id,
    limits: { maxFileSize: w.maxFileSize, allowedContentTypes: w.allowedContentTypes, quotaBytes: w.quotaBytes, maxFiles: w.maxFiles, maxPending: w.maxPending },
    usage: { usedBytes: w.usedBytes, reservedBytes: w.reservedBytes, fileCount: w.fileCount, pendingCount: w.pendingCount },
  };
}

function print(w: WorkspaceRow, json: boolean): void {
  if (json) {
    process.stdout.write(JSON.stringify(view(w), null, 2) + '\n');
    return;
  }
  process.stdout.write(
    table([
      ['workspace', w.id],
      ['max file size', `${formatBytes(w.maxFileSize)} (${w.maxFileSize} bytes)`],
      ['allowed types', w.allowedContentTypes.join(', ')],
      ['quota', `${formatBytes(w.quotaBytes)} (${w.quotaBytes} bytes)`],
      ['used', `${formatBytes(w.usedBytes)} + ${formatBytes(w.reservedBytes)} reserved`],
      ['files', `${w.fileCount} of ${w.maxFiles}`],
      ['pending', `${w.pendingCount} of ${w.maxPending}`],
    ]) + '\n',
  );
}

async function withDb<T>(fn: (db: Db, defaults: WorkspaceDefaults) => Promise<T>): Promise<T | null> {
  const config = loadConfigOrReport(process.env, { requireExternal: false });
  if (!config) return null;
  let url = config.databaseUrl;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    try {
      const secrets = await loadOrCreateDevSecrets(config.dataDir);
      const pg = await startEmbeddedPostgres({
        dataDir: path.join(config.dataDir, 'pg'),
        password: secrets.postgresPassword,
        persistent: true,
        database: 'stowage',
        port: config.embedded.postgresPort || undefined,
      });
      url = pg.url;
      stopEmbedded = pg.stop;
    } catch (err) {
      throw new Error(
        `DATABASE_URL is not set and the embedded Postgres in ${config.dataDir} could not be started ` +
          `(is \`stowage start\` running? then set DATABASE_URL): ${(err as Error).message.split('\n')[0]}`,
      );
    }
  }
  const db = createPool(url, { max: 2 });
  try {
    await migrate(db);
    return await fn(db, config.workspaceDefaults);
  } finally {
    await db.end();
    await stopEmbedded?.();
  }
}

const LIMIT_FLAGS = {
  'max-file-size': { type: 'string' as const, value: 'size', description: 'largest file, e.g. 5GiB, 100MB, 1048576' },
  quota: { type: 'string' as const, value: 'size', description: 'storage quota, e.g. 10GiB' },
  'max-files': { type: 'string' as const, value: 'n', description: 'most files (available + pending)' },
  'max-pending': { type: 'string' as const, value: 'n', description: 'most uploads in progress at once' },
  'allowed-types': { type: 'string' as const, value: 'list', description: 'comma-separated content types; "image/*" and "*/*" allowed' },
  json: { type: 'boolean' as const, description: 'print the workspace as JSON' },
};

export const workspaceCommand: Command = {
  name: 'workspace',
  summary:
    'Administers workspaces in the database (DATABASE_URL, else the embedded Postgres in STOWAGE_DATA_DIR):\n' +
    '  create ID [limits]      creates it (defaults from DEFAULT_* variables, overridden by the flags); exit 1 if it exists\n' +
    '  show ID                 limits and usage; exit 1 if unknown\n' +
    '  set-limits ID [limits]  changes limits (counters untouched; existing files are never removed)\n' +
    'Workspaces are also created on first use by a token, with the default limits.',
  usage: 'stowage workspace create|show|set-limits <id> [--max-file-size <size>] [--quota <size>] [--max-files <n>] [--max-pending <n>] [--allowed-types <list>] [--json]',
  flags: LIMIT_FLAGS,
  async run({ values, positionals }) {
    const [action, id, ...extra] = positionals;
    if (!action || !['create', 'show', 'set-limits'].includes(action)) throw new UsageError('the action must be create, show or set-limits');
    if (!id) throw new UsageError('name the workspace id');
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    if (!isValidWorkspaceId(id)) throw new UsageError('the workspace id must be 1-128 letters, digits, "-" or "_", starting with a letter or digit');
    const limits = limitsFrom(values);
    if (action === 'show' && Object.keys(limits).length > 0) throw new UsageError('show takes no limit flags (use set-limits)');
    if (action === 'set-limits' && Object.keys(limits).length === 0) throw new UsageError('set-limits needs at least one limit flag');
    const json = values.json === true;
    try {
      const code = await withDb(async (db, defaults) => {
        if (action === 'show') {
          const w = await getWorkspace(db, id);
          if (!w) {
            process.stderr.write(`stowage workspace: no workspace "${id}"\n`);
            return 1;
          }
          print(w, json);
          return 0;
        }
        if (action === 'create') {
          if (await getWorkspace(db, id)) {
            process.stderr.write(`stowage workspace: workspace "${id}" already exists (use set-limits)\n`);
            return 1;
          }
          const w = await ensureWorkspace(db, id, { ...defaults, ...limits });
          print(w, json);
          return 0;
        }
        const w = await setWorkspaceLimits(db, id, limits);
        if (!w) {
          process.stderr.write(`stowage workspace: no workspace "${id}" (create it first)\n`);
          return 1;
        }
        print(w, json);
        return 0;
      });
      return code ?? 1;
    } catch (err) {
      process.stderr.write(`stowage workspace: ${(err as Error).message.split('\n')[0]}\n`);
      return 1;
    }
  },
};
