// bin/stowage.mjs runs the sources as one esbuild bundle, rebuilt when a source is newer; tsx is the fallback.
import { execFile } from 'node:child_process';
import { statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);
const BIN = path.resolve('bin/stowage.mjs');
const BUNDLE = path.resolve('node_modules/.cache/stowage/cli.mjs');

describe('bin/stowage.mjs', () => {
  test('the bundle and the tsx fallback print the same help; a stale bundle is rebuilt', async () => {
    const bundled = await run(process.execPath, [BIN, '--help']);
    const old = new Date(Date.now() - 365 * 86400_000);
    utimesSync(BUNDLE, old, old); // older than every source: stale
    const rebuilt = await run(process.execPath, [BIN, '--help']);
    expect(statSync(BUNDLE).mtimeMs).toBeGreaterThan(old.getTime() + 1000);
    const viaTsx = await run(process.execPath, [BIN, '--help'], { env: { ...process.env, STOWAGE_NO_BUNDLE: '1' } });
    expect(bundled.stdout).toContain('Run `stowage <command> --help`');
    expect(rebuilt.stdout).toBe(bundled.stdout);
    expect(viaTsx.stdout).toBe(bundled.stdout);
  });
});
