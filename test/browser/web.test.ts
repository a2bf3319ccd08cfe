// The upload page in a real browser (Debian chromium through playwright-core): a small file and a 120 MiB file
// (multipart) uploaded together with the progress bar advancing, both listed, one downloaded and compared byte for
// byte, a too-large file refused with an in-page message, screenshots at phone and desktop widths.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { randomBytes, createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { embeddedTarget, type EmbeddedS3Target } from '../helpers/s3-targets.ts';
import { setWorkspaceLimits } from '../../src/db/workspaces.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser suite skipped: no chromium at ${CHROMIUM} (set CHROMIUM_PATH)`);

const MiB = 1024 * 1024;
const SHOTS = path.resolve('test-results/screenshots');

async function writeBigFile(file: string, size: number): Promise<string> {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const fh = await open(file, 'w');
  try {
    for (let off = 0, n = 0; off < size; off += MiB, n++) {
      block.writeUInt32BE(n, 0); // every MiB differs
      const chunk = block.subarray(0, Math.min(MiB, size - off));
      hash.update(chunk);
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

describe.skipIf(!haveChromium)('web page in chromium', () => {
  let target: EmbeddedS3Target;
  let app: TestApp;
  let browser: Browser;
  let dir: string;
  const workspace = randomWorkspaceId('web');

  beforeAll(async () => {
    target = embeddedTarget();
    await target.start();
    let tokenFor: TestApp['tokenFor'] | undefined;
    app = await startTestApp({
      s3Target: { endpoint: target.endpoint, region: target.region, ...target.credentials },
      env: { DOWNLOAD_STRATEGY: 's3', DEFAULT_MAX_FILE_SIZE: String(200 * MiB) },
      // The dev flow of `stowage start`: the page fetches its token from /web/dev-token.
      server: { devPageToken: async () => ({ token: await tokenFor!(workspace), workspace }) },
    });
    tokenFor = app.tokenFor;
    dir = await mkdtemp(path.join(tmpdir(), 'stowage-web-'));
    await mkdir(SHOTS, { recursive: true });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
        '--no-first-run', '--disable-component-update', '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function openPage(width: number, height: number): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height }, acceptDownloads: true });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(app.baseUrl + '/');
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    expect(problems).toEqual([]);
    return page;
  }

  test('upload small + 120 MiB, progress advances, both listed, download matches, too-large refused, screenshots', async () => {
    const small = path.join(dir, 'notes.txt');
    const smallBytes = Buffer.from('Stowage browser test\n'.repeat(200));
    await writeFile(small, smallBytes);
    const big = path.join(dir, 'big.bin');
    const bigHash = await writeBigFile(big, 120 * MiB);
    const huge = path.join(dir, 'huge.bin');
    await writeFile(huge, '');
    await truncate(huge, 300 * MiB); // sparse: only its size matters

    const page = await openPage(1280, 900);
    // Limits are on the page before anything is tried.
    await expect.poll(() => page.textContent('#limit-size')).toBe('200 MB');
    expect(await page.textContent('#limit-types')).toContain('text/plain');
    expect(await page.textContent('#who')).toContain(workspace);

    // Record every percentage the big file's bar shows.
    await page.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { seen: number[] }).seen = seen;
      new MutationObserver(() => {
        const li = document.querySelector<HTMLElement>('li.upload[data-name="big.bin"]');
        const v = li?.querySelector('progress')?.value;
        if (v !== undefined && seen[seen.length - 1] !== v) seen.push(v);
      }).observe(document.getElementById('uploads')!, { subtree: true, attributes: true, childList: true, characterData: true });
    });
    await page.setInputFiles('#file-input', [small, big]);
    await page.waitForSelector('li.upload[data-name="big.bin"]');
    await page.screenshot({ path: path.join(SHOTS, 'desktop-uploading.png'), fullPage: true });

    await page.waitForSelector('li.upload[data-name="notes.txt"][data-state="done"]', { timeout: 60_000 });
    await page.waitForSelector(`li.upload[data-name="big.bin"][data-state="done"]`, { timeout: 240_000 });
    const seen = await page.evaluate(() => (window as unknown as { seen: number[] }).seen);
    expect(seen.some((v) => v > 0 && v < 100), `progress values: ${seen.join(', ')}`).toBe(true);
    expect(seen[seen.length - 1]).toBe(100);
    // Non-decreasing while it ran.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(await page.textContent('li.upload[data-name="big.bin"] .pct')).toBe('100%');

    // Both listed as available.
    for (const name of ['notes.txt', 'big.bin']) {
      await page.waitForSelector(`#files tbody tr[data-status="available"]:has(td.name:text-is("${name}"))`, { timeout: 30_000 });
    }
    const listed = await page.$$eval('#files tbody tr', (rows) => rows.map((r) => r.querySelector('td.name')?.textContent));
    expect(listed).toEqual(expect.arrayContaining(['notes.txt', 'big.bin']));
    expect(await page.textContent('#usage-text')).toMatch(/120 MB used/);

    // Download the small one through its signed URL and compare the bytes.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('#files tbody tr:has(td.name:text-is("notes.txt")) button:text-is("Download")'),
    ]);
    const got = await readFile((await download.path())!);
    expect(got.equals(smallBytes)).toBe(true);
    expect(download.suggestedFilename()).toBe('notes.txt');
    // And the big one's bytes as storage holds them, through the API's signed URL.
    const fileId = await page.getAttribute('#files tbody tr:has(td.name:text-is("big.bin"))', 'data-id');
    const link = (await (await app.api(workspace, `/v1/files/${fileId}/download`)).json()) as { url: string };
    const bigGot = Buffer.from(await (await fetch(link.url)).arrayBuffer());
    expect(createHash('sha256').update(bigGot).digest('hex')).toBe(bigHash);

    // Too large: refused in the page, before anything is sent.
    await page.setInputFiles('#file-input', [huge]);
    const message = page.locator('#messages .message.error').last();
    await message.waitFor();
    expect(await message.textContent()).toMatch(/huge\.bin.*too large.*200 MB/);
    expect(await page.locator('li.upload[data-name="huge.bin"]').count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'desktop.png'), fullPage: true });

    // Phone width: same page, tidy single column.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(SHOTS, 'phone.png'), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);

    // Keyboard: the file picker and the row buttons are reachable with Tab.
    const focusable = await page.evaluate(() => {
      const labels: string[] = [];
      for (const e of document.querySelectorAll<HTMLElement>('input, button, a[href], textarea')) {
        if (e.offsetParent !== null || e.id === 'file-input') labels.push(e.getAttribute('aria-label') ?? e.id ?? e.textContent ?? '');
      }
      return labels;
    });
    expect(focusable).toContain('file-input');
    expect(focusable.some((l) => /^Delete notes\.txt$/.test(l))).toBe(true);
    await page.close();
  }, 300_000);

  test('pause, reload, pick the same file again: the multipart upload resumes from the parts already stored', async () => {
    const file = path.join(dir, 'resume.bin');
    const hash = await writeBigFile(file, 120 * MiB);
    const page = await openPage(1280, 900);
    page.on('dialog', (d) => void d.accept()); // "leave the page?" while an upload is paused
    await page.setInputFiles('#file-input', [file]);
    const item = 'li.upload[data-name="resume.bin"]';
    // As soon as some part is stored, pause.
    await page.waitForFunction((sel) => Number(document.querySelector<HTMLElement>(sel)?.dataset.percent ?? 0) > 0, item, { polling: 20 });
    await page.click(`${item} button:text-is("Pause")`);
    expect(await page.getAttribute(item, 'data-state')).toBe('paused');
    expect(await page.isVisible(`${item} button:text-is("Resume")`)).toBe(true);

    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    // The page remembers the unfinished upload and says how to continue it.
    expect(await page.textContent('#unfinished')).toContain('resume.bin');
    await page.setInputFiles('#file-input', [file]);
    await page.waitForSelector(`${item}[data-state="done"]`, { timeout: 120_000 });
    const resumed = await page.getAttribute(item, 'data-resumed');
    expect(resumed, 'onResume reported parts found on the server').toMatch(/^[1-8]\/8$/);
    expect(await page.isVisible('#unfinished')).toBe(false);

    // One file, complete and intact (no second upload was created).
    const list = (await (await app.api(workspace, '/v1/files?limit=100')).json()) as { items: Array<{ id: string; filename: string; status: string }> };
    const mine = list.items.filter((f) => f.filename === 'resume.bin' && f.status !== 'deleted');
    expect(mine.map((f) => f.status)).toEqual(['available']);
    const link = (await (await app.api(workspace, `/v1/files/${mine[0]!.id}/download`)).json()) as { url: string };
    const got = Buffer.from(await (await fetch(link.url)).arrayBuffer());
    expect(createHash('sha256').update(got).digest('hex')).toBe(hash);
    await page.close();
  }, 300_000);

  test('delete; spoofed content and quota-full messages; without a dev token the page asks for one', async () => {
    const page = await openPage(1024, 800);
    const name = `gone-${Date.now()}.txt`;
    const f = path.join(dir, name);
    await writeFile(f, 'delete me\n');
    await page.setInputFiles('#file-input', [f]);
    await page.waitForSelector(`li.upload[data-name="${name}"][data-state="done"]`);
    const row = `#files tbody tr:has(td.name:text-is("${name}"))`;
    await page.waitForSelector(row);
    await page.click(`${row} button:text-is("Delete")`);
    await page.waitForSelector(row, { state: 'detached' });
    expect(await page.locator('#messages .message.info').last().textContent()).toContain(`Deleted “${name}”`);

    // Spoofed content: a "PNG" that is text is refused at completion, with a message in the page.
    const fake = path.join(dir, 'fake.png');
    await writeFile(fake, 'this is not an image at all\n'.repeat(20));
    await page.setInputFiles('#file-input', [fake]);
    await page.waitForSelector('li.upload[data-name="fake.png"][data-state="failed"]', { timeout: 60_000 });
    expect(await page.locator('#messages .message.error').last().textContent()).toMatch(
      /“fake\.png” was refused: its content does not match its declared type/,
    );

    // Quota full: the page says so before sending anything.
    const usage = (await (await app.api(workspace, '/v1/usage')).json()) as { usedBytes: number; reservedBytes: number };
    await setWorkspaceLimits(app.deps.db, workspace, { quotaBytes: usage.usedBytes + usage.reservedBytes + 100 });
    await page.click('#refresh');
    await expect.poll(() => page.textContent('#usage-text')).not.toMatch(/of 10 GB/);
    const tooBig = path.join(dir, 'over-quota.txt');
    await writeFile(tooBig, 'q'.repeat(4096));
    await page.setInputFiles('#file-input', [tooBig]);
    await expect.poll(() => page.locator('#messages .message.error').last().textContent()).toMatch(
      /“over-quota\.txt” \(4\.0 KB\) does not fit: the quota is full/,
    );
    expect(await page.locator('li.upload[data-name="over-quota.txt"]').count()).toBe(0);
    await page.screenshot({ path: path.join(SHOTS, 'desktop-refusals.png'), fullPage: true });
    await page.close();

    // A server without the dev option (`serve`): the page shows the token form; a pasted token is kept.
    const prod = await startTestApp({ s3Target: { endpoint: target.endpoint, region: target.region, ...target.credentials } });
    try {
      expect((await fetch(`${prod.baseUrl}/web/dev-token`)).status).toBe(404);
      const p = await browser.newPage();
      await p.goto(prod.baseUrl + '/');
      await p.waitForSelector('body[data-ready="token"]');
      expect(await p.isVisible('#token-section')).toBe(true);
      await p.fill('#token-input', await prod.tokenFor('pasted-ws'));
      await p.keyboard.press('Tab');
      await p.keyboard.press('Enter');
      await p.waitForSelector('body[data-ready="true"]');
      expect(await p.textContent('#who')).toContain('pasted-ws');
      await p.close();
    } finally {
      await prod.close();
    }
  }, 300_000);
});
