// `stowage ls`, `stowage download ID [-o PATH]`, `stowage rm ID…`: the workspace's files through the HTTP API.
import { createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from '../command.ts';
import { UsageError } from '../args.ts';
import { CLIENT_ENV_HELP, CLIENT_FLAGS, formatBytes, parsePositiveInt, runClient, table } from '../client-cli.ts';
import type { FileStatus, FileView } from '../../client/index.ts';

const STATUSES = ['pending', 'available', 'rejected', 'expired', 'deleted', 'missing'];

export const lsCommand: Command = {
  name: 'ls',
  summary: `Lists the workspace's files, newest first (deleted ones only with --status deleted).\n${CLIENT_ENV_HELP}`,
  usage: 'stowage ls [--status <status>] [--limit <n>] [--all] [--json]',
  flags: {
    status: { type: 'string', value: 'status', description: `only files in this state (${STATUSES.join(', ')})` },
    limit: { type: 'string', value: 'n', description: 'at most n files (default 100)' },
    all: { type: 'boolean', description: 'every file (follows the cursor)' },
    ...CLIENT_FLAGS,
  },
  async run({ values }) {
    const status = values.status;
    if (status !== undefined && (typeof status !== 'string' || !STATUSES.includes(status))) {
      throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
    }
    const limit = values.all ? Infinity : parsePositiveInt(values.limit, '--limit', 100);
    return runClient('ls', values, async (client) => {
      const items: FileView[] = [];
      for await (const f of client.allFiles({ status: status as FileStatus | undefined })) {
        if (!status && f.status === 'deleted') continue;
        items.push(f);
        if (items.length >= limit) break;
      }
      if (values.json) {
        process.stdout.write(JSON.stringify(items, null, 2) + '\n');
        return 0;
      }
      if (items.length === 0) {
        process.stdout.write('no files\n');
        return 0;
      }
      const rows = [['ID', 'STATUS', 'SIZE', 'TYPE', 'UPLOADED', 'NAME']];
      for (const f of items) {
        rows.push([f.id, f.status, formatBytes(f.size), f.contentType, (f.completedAt ?? f.createdAt).replace(/\.\d+Z$/, 'Z'), f.filename]);
      }
      process.stdout.write(table(rows) + '\n');
      return 0;
    });
  },
};

/** A file name safe to create in the current directory. */
function safeName(name: string): string {
  const base = path.basename(name.replace(/\\/g, '/')).replace(/[\x00-\x1f]/g, '_');
  return base === '' || base === '.' || base === '..' ? 'download' : base;
}

export const downloadCommand: Command = {
  name: 'download',
  summary:
    'Downloads a file through its signed URL to -o PATH (default: its name in the current directory; "-" for stdout).\n' +
    `Refuses to overwrite an existing file unless --force.\n${CLIENT_ENV_HELP}`,
  usage: 'stowage download ID [-o <path>] [--force] [--json]',
  flags: {
    output: { type: 'string', value: 'path', short: 'o', description: 'where to write ("-" = standard output)' },
    force: { type: 'boolean', description: 'overwrite an existing file' },
    ...CLIENT_FLAGS,
  },
  async run({ values, positionals }) {
    if (positionals.length !== 1) throw new UsageError('name exactly one file ID');
    const id = positionals[0]!;
    return runClient('download', values, async (client) => {
      const file = await client.getFile(id);
      if (file.status !== 'available') {
        process.stderr.write(`stowage download: ${id} is ${file.status}, not available\n`);
        return 1;
      }
      let out = typeof values.output === 'string' ? values.output : safeName(file.filename);
      if (out !== '-') {
        const existing = await stat(out).catch(() => null);
        if (existing?.isDirectory()) out = path.join(out, safeName(file.filename));
        if (!values.force && (await stat(out).catch(() => null))) {
          process.stderr.write(`stowage download: ${out} exists (use --force to overwrite)\n`);
          return 1;
        }
      }
      const res = await client.download(id);
      if (!res.body) throw new Error('empty response from storage');
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
      let bytes = 0;
      body.on('data', (c: Buffer) => (bytes += c.length));
      if (out === '-') await pipeline(body, process.stdout);
      else await pipeline(body, createWriteStream(out));
      if (file.size !== null && bytes !== file.size) {
        process.stderr.write(`stowage download: got ${bytes} bytes, expected ${file.size}\n`);
        return 1;
      }
      // With -o - the data is on stdout: the summary goes to stderr.
      const summaryTo = out === '-' ? process.stderr : process.stdout;
      if (values.json) summaryTo.write(JSON.stringify({ id, path: out, size: bytes }) + '\n');
      else if (out !== '-') summaryTo.write(`${out}  ${formatBytes(bytes)}\n`);
      return 0;
    });
  },
};

export const rmCommand: Command = {
  name: 'rm',
  summary: `Deletes files (idempotent: deleting a deleted file succeeds).\n${CLIENT_ENV_HELP}`,
  usage: 'stowage rm ID… [--json]',
  flags: { ...CLIENT_FLAGS },
  async run({ values, positionals }) {
    if (positionals.length === 0) throw new UsageError('name at least one file ID');
    return runClient('rm', values, async (client) => {
      for (const id of positionals) await client.deleteFile(id);
      if (values.json) process.stdout.write(JSON.stringify({ deleted: positionals }) + '\n');
      else for (const id of positionals) process.stdout.write(`deleted ${id}\n`);
      return 0;
    });
  },
};
