// `stowage upload FILE… [--concurrency N]`: uploads through the SDK, a progress bar per file on a terminal (bytes,
// rate, ETA), plain lines otherwise. Multipart uploads interrupted earlier resume (the SDK finds them by fingerprint).
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Command } from '../command.ts';
import { UsageError } from '../args.ts';
import { CLIENT_ENV_HELP, CLIENT_FLAGS, describeError, formatBytes, formatEta, parsePositiveInt, runClient } from '../client-cli.ts';
import type { FileView, UploadProgress } from '../../client/index.ts';

interface Row {
  name: string;
  size: number;
  progress: UploadProgress | null;
  state: 'waiting' | 'uploading' | 'done' | 'failed';
  note: string;
  lastPlainStep: number;
}

function bar(fraction: number, width: number): string {
  const full = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

function rowLine(r: Row, nameWidth: number, columns: number): string {
  const name = r.name.length > nameWidth ? r.name.slice(0, nameWidth - 1) + '…' : r.name.padEnd(nameWidth);
  const p = r.progress;
  const sent = p?.bytesSent ?? (r.state === 'done' ? r.size : 0);
  const fraction = r.size > 0 ? sent / r.size : r.state === 'done' ? 1 : 0;
  const pct = `${Math.floor(fraction * 100)}%`.padStart(4);
  let tail: string;
  if (r.state === 'done') tail = `${formatBytes(r.size)}  done`;
  else if (r.state === 'failed') tail = `failed: ${r.note}`;
  else if (r.state === 'waiting') tail = 'waiting';
  else tail = `${formatBytes(sent)}/${formatBytes(r.size)}  ${formatBytes(p?.rate ?? 0)}/s  ETA ${formatEta(p?.eta ?? null)}`;
  const barWidth = Math.max(10, Math.min(30, columns - nameWidth - tail.length - 10));
  return `${name} ${bar(fraction, barWidth)} ${pct}  ${tail}`.slice(0, Math.max(20, columns - 1));
}

/** Redraws every row in place (ANSI: cursor up, clear line) at most every 100 ms. */
class TtyRenderer {
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;
  constructor(private rows: Row[], private out: NodeJS.WriteStream) {}
  private nameWidth() {
    return Math.min(32, Math.max(8, ...this.rows.map((r) => r.name.length)));
  }
  draw(): void {
    const columns = this.out.columns || 100;
    let s = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const r of this.rows) s += `\r\x1b[2K${rowLine(r, this.nameWidth(), columns)}\n`;
    this.drawn = this.rows.length;
    this.out.write(s);
  }
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.draw();
    }, 100);
  }
  finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.draw();
  }
}

export const uploadCommand: Command = {
  name: 'upload',
  summary:
    'Uploads files to the workspace of the token, with a progress bar per file (bytes, rate, ETA) on a terminal and\n' +
    'plain progress lines otherwise. Large files go multipart; an interrupted multipart upload of the same file\n' +
    `resumes where it stopped.\n${CLIENT_ENV_HELP}`,
  usage: 'stowage upload FILE… [--concurrency <n>] [--content-type <type>] [--json]',
  flags: {
    concurrency: { type: 'string', value: 'n', description: 'files uploaded at the same time (default 2)' },
    'part-concurrency': { type: 'string', value: 'n', description: 'parts in flight per multipart file (default 4)' },
    'content-type': { type: 'string', value: 'type', description: 'content type for every file (default: from the extension)' },
    'no-resume': { type: 'boolean', description: 'start afresh even if an unfinished upload of the same file exists' },
    ...CLIENT_FLAGS,
  },
  async run({ values, positionals }) {
    if (positionals.length === 0) throw new UsageError('name at least one FILE to upload');
    const concurrency = parsePositiveInt(values.concurrency, '--concurrency', 2);
    const partConcurrency = parsePositiveInt(values['part-concurrency'], '--part-concurrency', 4);
    const rows: Row[] = [];
    for (const file of positionals) {
      let info;
      try {
        info = await stat(file);
      } catch {
        process.stderr.write(`stowage upload: ${file}: no such file\n`);
        return 1;
      }
      if (!info.isFile()) {
        process.stderr.write(`stowage upload: ${file}: not a regular file\n`);
        return 1;
      }
      rows.push({ name: basename(file), size: info.size, progress: null, state: 'waiting', note: '', lastPlainStep: -1 });
    }
    const json = values.json === true;
    const tty = !json && process.stdout.isTTY === true;
    return runClient('upload', values, async (client) => {
      const renderer = tty ? new TtyRenderer(rows, process.stdout) : null;
      renderer?.draw();
      const plain = (r: Row, text: string) => {
        if (!json && !tty) process.stdout.write(`${r.name}: ${text}\n`);
      };
      const results: Array<{ path: string; file?: FileView; error?: { code: string; message: string } }> = [];
      let next = 0;
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= positionals.length) return;
          const path = positionals[i]!;
          const row = rows[i]!;
          row.state = 'uploading';
          plain(row, `uploading ${formatBytes(row.size)}`);
          renderer?.schedule();
          const handle = client.upload(path, {
            concurrency: partConcurrency,
            contentType: typeof values['content-type'] === 'string' ? values['content-type'] : undefined,
            resume: values['no-resume'] !== true,
            onResume: ({ partsPresent, partCount }) => plain(row, `resuming: ${partsPresent} of ${partCount} parts already stored`),
            onProgress: (p) => {
              row.progress = p;
              renderer?.schedule();
              const step = p.total > 0 ? Math.floor((p.bytesSent / p.total) * 4) : 0; // 25 % steps
              if (step > row.lastPlainStep && step < 4) {
                row.lastPlainStep = step;
                if (step > 0) {
                  plain(row, `${step * 25}% ${formatBytes(p.bytesSent)}/${formatBytes(p.total)} ${formatBytes(p.rate)}/s ETA ${formatEta(p.eta)}`);
                }
              }
            },
          });
          try {
            const file = await handle.done;
            row.state = 'done';
            results[i] = { path, file };
            plain(row, `done ${file.id} ${formatBytes(file.size)}`);
          } catch (err) {
            row.state = 'failed';
            row.note = describeError(err);
            const e = err as { code?: string };
            results[i] = { path, error: { code: e.code ?? 'error', message: row.note } };
            plain(row, `failed: ${row.note}`);
          }
          renderer?.schedule();
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, positionals.length) }, worker));
      renderer?.finish();
      const failed = results.filter((r) => r.error);
      if (json) {
        process.stdout.write(JSON.stringify({ files: results.filter((r) => r.file).map((r) => ({ path: r.path, ...r.file })), failed }, null, 2) + '\n');
      } else if (tty) {
        for (const r of results) if (r.file) process.stdout.write(`${r.file.id}  ${r.path}\n`);
      }
      if (failed.length > 0) {
        process.stderr.write(
          `stowage upload: ${failed.length} of ${results.length} failed: ${failed.map((f) => `${f.path} (${f.error!.message})`).join('; ')}\n`,
        );
        return 1;
      }
      return 0;
    });
  },
};
