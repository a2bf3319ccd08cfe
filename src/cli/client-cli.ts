// Shared by the client commands (upload, ls, download, rm): where the API is, the token, one-line failures, sizes.
import { UsageError, type FlagSpec } from './args.ts';
import { createClient, StowageError, type StowageClient } from '../client/index.ts';

export const CLIENT_FLAGS: Record<string, FlagSpec> = {
  url: { type: 'string', value: 'url', description: 'API base URL (STOWAGE_URL, default http://127.0.0.1:3000)' },
  token: { type: 'string', value: 'jwt', description: 'bearer token (STOWAGE_TOKEN; `stowage token --workspace W` mints one)' },
  json: { type: 'boolean', description: 'print the result as JSON (for scripts)' },
};

export const CLIENT_ENV_HELP =
  'Talks to the HTTP API: STOWAGE_URL (or --url) and STOWAGE_TOKEN (or --token).';

type Values = Record<string, string | boolean | undefined>;

export function clientFrom(values: Values, env: Record<string, string | undefined> = process.env): { client: StowageClient; baseUrl: string } {
  const baseUrl = (typeof values.url === 'string' ? values.url : env.STOWAGE_URL?.trim()) || 'http://127.0.0.1:3000';
  try {
    new URL(baseUrl);
  } catch {
    throw new UsageError(`--url / STOWAGE_URL is not a URL: "${baseUrl}"`);
  }
  const token = (typeof values.token === 'string' ? values.token : env.STOWAGE_TOKEN?.trim()) || '';
  if (!token) throw new UsageError('no token: set STOWAGE_TOKEN or pass --token (mint one with `stowage token --workspace <id>`)');
  return { client: createClient({ baseUrl, token, retry: { retries: 3 } }), baseUrl };
}

/** One line describing a failure (no stack): `code: message`, or the network cause. */
export function describeError(err: unknown, baseUrl?: string): string {
  if (err instanceof StowageError) return `${err.code}: ${err.message}`;
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.cause?.code === 'ECONNREFUSED') return `cannot reach the API at ${baseUrl ?? 'STOWAGE_URL'} (connection refused)`;
  if (e?.name === 'TypeError' && e.message === 'fetch failed') return `network error: ${e.cause?.message ?? e.message}`;
  return e?.message ?? String(err);
}

/** Runs a client command body; failures print `stowage <cmd>: reason` and exit 1. */
export async function runClient(cmd: string, values: Values, body: (c: StowageClient, baseUrl: string) => Promise<number>): Promise<number> {
  const { client, baseUrl } = clientFrom(values);
  try {
    return await body(client, baseUrl);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    process.stderr.write(`stowage ${cmd}: ${describeError(err, baseUrl)}\n`);
    return 1;
  }
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "5GiB", "100MB", "1.5G", "12345" → bytes (binary units: K/KB/KiB = 1024). */
export function parseSize(v: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(v);
  if (!m) throw new UsageError(`${flag} must be a size like 5GiB, 100MiB or 1048576, got "${v}"`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const n = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${flag} is too large`);
  return n;
}

export function parsePositiveInt(v: unknown, flag: string, def: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${flag} must be a positive whole number`);
  return Number(v);
}

/** A plain table: columns padded, last column free. */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}
