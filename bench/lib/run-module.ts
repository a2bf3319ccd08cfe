// Runs ONE benchmark module in its own process (so modules cannot disturb each other's memory, CPU or handles) and
// writes {status, reason?, results} as JSON to the file named by argv[3]. Started by bench/run.ts.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { BenchSkip, type BenchModule, type BenchResult } from './types.ts';

const [name, outFile] = process.argv.slice(2);
const quick = process.argv.includes('--quick');

function write(v: { status: 'ok' | 'skipped' | 'error'; reason?: string; results: BenchResult[] }): void {
  writeFileSync(outFile, JSON.stringify(v));
}

try {
  const mod = (await import(pathToFileURL(resolve('bench', `${name}.ts`)).href)) as Partial<BenchModule>;
  if (typeof mod.run !== 'function') throw new Error(`bench/${name}.ts does not export run(opts)`);
  const results = await mod.run({ quick, log: (m: string) => console.error(m) });
  if (!Array.isArray(results)) throw new Error(`bench/${name}.ts run() did not return an array`);
  write({ status: 'ok', results });
  process.exit(0);
} catch (err) {
  if (err instanceof BenchSkip || (err instanceof Error && err.name === 'BenchSkip')) {
    write({ status: 'skipped', reason: err.message, results: [] });
    process.exit(0);
  }
  const e = err as Error;
  write({ status: 'error', reason: e?.stack ?? String(err), results: [] });
  process.exit(1);
}
