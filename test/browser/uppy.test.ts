// The official @uppy/core + @uppy/aws-s3 (bundled from npm with esbuild, unmodified) in Debian's Chromium, pointed at
// Stowage's Companion-compatible endpoint: a small file (presigned POST form) and a 120 MiB file (multipart) end as
// available files whose bytes match. Skipped with a message when Chromium is missing.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startObjectStore, type ObjectStore } from '../../src/objectstore/index.ts';
import { parseStorageNotification } from '../../src/domain/storage-events.ts';
import { handleStorageEvents } from '../../src/services/handle-storage-event.ts';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';

const MiB = 1024 * 1024;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`[stowage tests] Uppy browser tests skipped: no Chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

describe.skipIf(!haveChromium)('Uppy (official @uppy/aws-s3) in Chromium against Stowage', () => {
  let dir: string;
  let store: ObjectStore;
  let app: TestApp;
  let pageServer: Server;
  let pageUrl: string;
  let browser: Browser;
  let page: Page;
  let unsubscribe: () => void;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stowage-uppy-'));
    const credentials = { accessKeyId: 'AKIAUPPY' + randomBytes(6).toString('hex'), secretAccessKey: randomBytes(20).toString('hex') };
    store = await startObjectStore({ dir, host: '127.0.0.1', port: 0, credentials: [credentials] });
    app = await startTestApp({
      s3Target: { endpoint: store.endpoint, region: 'us-east-1', ...credentials },
      env: { DOWNLOAD_STRATEGY: 's3' },
    });
    // Uppy never calls back after a form POST: as in `stowage start`, the store's notifications settle the upload.
    unsubscribe = store.subscribe((record) => {
      const parsed = parseStorageNotification({ Records: [record] });
      void handleStorageEvents(app.deps, parsed.events).catch(() => undefined);
    });

    const bundle = await build({
      entryPoints: [path.join(path.dirname(fileURLToPath(import.meta.url)), 'uppy-page.ts')],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      logLevel: 'silent',
    });
    const js = bundle.outputFiles[0]!.text;
    const html = '<!doctype html><meta charset="utf-8"><title>uppy test</title><script type="module" src="/uppy.js"></script>';
    pageServer = createServer((req, res) => {
      if (req.url === '/uppy.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    await new Promise<void>((r) => pageServer.listen(0, '127.0.0.1', r));
    const addr = pageServer.address();
    pageUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run',
        '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage();
    page.on('pageerror', (err) => console.warn('[page error]', err.message));
    await page.goto(pageUrl);
    await page.waitForFunction(() => typeof window.uppyUpload === 'function');
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((r) => (pageServer ? pageServer.close(() => r()) : r()));
    unsubscribe?.();
    await app?.close();
    await store?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function endpointFor(ws: string): Promise<string> {
    const r = await app.api(ws, '/v1/uppy/tokens', { method: 'POST', json: {} });
    return ((await r.json()) as { endpoint: string }).endpoint;
  }

  async function availableFile(ws: string, name: string): Promise<{ id: string; size: number; status: string; uploadMethod: string }> {
    for (let i = 0; i < 200; i++) {
      const list = (await (await app.api(ws, '/v1/files')).json()) as { items: any[] };
      const f = list.items.find((x) => x.filename === name);
      if (f && f.status !== 'pending') return f;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${name} did not settle`);
  }

  async function storedSha(ws: string, id: string): Promise<string> {
    const link = (await (await app.api(ws, `/v1/files/${id}/download`)).json()) as { url: string };
    const res = await fetch(link.url);
    expect(res.status).toBe(200);
    const hash = createHash('sha256');
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
    return hash.digest('hex');
  }

  test('a small file goes as a presigned POST form and ends available with the same bytes', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const r = await page.evaluate(([e]) => window.uppyUpload(e!, 200_000, 'small.bin', 'application/octet-stream'), [endpoint]);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect(r.key).toMatch(new RegExp(`^workspaces/${ws}/files/`));
    const f = await availableFile(ws, 'small.bin');
    expect(f).toMatchObject({ status: 'available', size: 200_000, uploadMethod: 'post' });
    expect(await storedSha(ws, f.id)).toBe(r.sha256);
  });

  test('a 120 MiB file goes multipart (24 parts) and ends available with the same bytes', async () => {
    const ws = randomWorkspaceId();
    const endpoint = await endpointFor(ws);
    const r = await page.evaluate(([e]) => window.uppyUpload(e!, 120 * 1024 * 1024, 'big.bin', 'application/octet-stream'), [endpoint]);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    const f = await availableFile(ws, 'big.bin');
    expect(f).toMatchObject({ status: 'available', size: 120 * MiB, uploadMethod: 'multipart' });
    const row = (await app.deps.db.query('SELECT part_size, part_count FROM files WHERE id = $1', [f.id])).rows[0];
    expect(row).toMatchObject({ part_size: 5 * MiB, part_count: 24 });
    expect(await storedSha(ws, f.id)).toBe(r.sha256);
    await app.api(ws, `/v1/files/${f.id}`, { method: 'DELETE' });
  }, 240_000);
});
