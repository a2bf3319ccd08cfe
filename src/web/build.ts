// Builds the upload page's script (src/web/app.ts + the client SDK) with esbuild, in memory, once per process.
// No build step to remember: the first request for /web/app.js triggers it (or call warmWebBundle() at start).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';

export interface WebAsset {
  body: string;
  etag: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
let bundle: Promise<WebAsset> | undefined;
let stylesheet: Promise<WebAsset> | undefined;

function asset(body: string): WebAsset {
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

async function build(): Promise<WebAsset> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('esbuild is not installed: the web page cannot be built (npm install esbuild)');
  }
  const result = await esbuild.build({
    entryPoints: [path.join(here, 'app.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [
      {
        // The SDK loads its Node file reader only for path inputs; browsers never take that branch.
        name: 'no-node-file',
        setup(b) {
          b.onResolve({ filter: /node-file\.ts$/ }, () => ({ path: 'node-file', namespace: 'stub' }));
          b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
            contents: 'export async function openFileSource() { throw new Error("paths are not supported in browsers"); }',
            loader: 'js',
          }));
        },
      },
    ],
  });
  return asset(result.outputFiles[0]!.text);
}

/** The page's script; built on first use and kept in memory (a failed build is retried on the next request). */
export function webBundle(): Promise<WebAsset> {
  bundle ??= build().catch((err) => {
    bundle = undefined;
    throw err;
  });
  return bundle;
}

export function webStylesheet(): Promise<WebAsset> {
  stylesheet ??= readFile(path.join(here, 'styles.css'), 'utf8').then(asset, (err) => {
    stylesheet = undefined;
    throw err;
  });
  return stylesheet;
}

/** Starts the build in the background (so the first visitor does not wait). */
export function warmWebBundle(onError?: (err: unknown) => void): void {
  webBundle().catch((err) => onError?.(err));
}
