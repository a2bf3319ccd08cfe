#!/usr/bin/env -S node --no-memory-reducer
// --no-memory-reducer: V8's memory reducer runs full garbage collections every few seconds once allocation slows; on
// a quiet API that measured 60-140 ms of CPU every ~9 s, to shrink a heap of a few tens of MB. A server keeps its
// heap; ordinary GC still frees garbage as it is allocated. (A V8 flag: it cannot be set once the process runs.)
// Entry point of the `stowage` command. Runs the TypeScript sources compiled to one JavaScript bundle (esbuild, npm
// packages left external), rebuilt when any source is newer than it, so there is no separate build step. Running the
// bundle instead of loading every file through tsx's loader hooks (a second V8 isolate that transpiles at run time)
// makes a process ~40 MB smaller and start faster. STOWAGE_NO_BUNDLE=1, or a bundle that cannot be written (a
// read-only install), falls back to tsx.
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const outDir = join(root, 'node_modules', '.cache', 'stowage');
const out = join(outDir, 'cli.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

async function bundle() {
  const stale = (() => {
    try {
      return statSync(out).mtimeMs < Math.max(newestSource(src), statSync(fileURLToPath(import.meta.url)).mtimeMs);
    } catch {
      return true;
    }
  })();
  if (!stale) return out;
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(src, 'cli', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    outfile: out,
    logLevel: 'silent',
    plugins: [
      {
        // Each module keeps its own import.meta.url (migrations and the web page's sources are found next to it).
        name: 'own-import-meta-url',
        setup(build) {
          build.onLoad({ filter: /\.ts$/ }, (args) => ({
            contents: readFileSync(args.path, 'utf8').replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
            loader: 'ts',
          }));
        },
      },
    ],
  });
  mkdirSync(outDir, { recursive: true });
  // Written atomically: several processes may start (and build) at once.
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, result.outputFiles[0].contents);
  renameSync(tmp, out);
  return out;
}

let entry = null;
if (process.env.STOWAGE_NO_BUNDLE !== '1') {
  try {
    entry = await bundle();
  } catch (err) {
    if (process.env.STOWAGE_DEBUG_BUNDLE) console.error('stowage: running through tsx (bundle failed):', err);
  }
}
if (entry) {
  await import(pathToFileURL(entry).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
