// SDK behaviours against the real server and the embedded store: single uploads (PUT/POST, whole-file checksum),
// per-part checksums verified by storage, retries (503 SlowDown, network errors), re-signing expired part URLs,
// pause/resume, abort(), and the file helpers.
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { apiTargets } from '../api/support.ts';
import { createClient, isAbortError, StowageError, type UploadProgress } from '../../src/client/index.ts';
import { countingFetch, sha256OfResponse, writeTestFile } from './helpers.ts';

const MiB = 1024 * 1024;
const embedded = apiTargets()[0]!;

describe('SDK on the embedded store', () => {
  let app: TestApp;
  let shortUrls: TestApp;
  let stop: () => Promise<void>;
  let dir: string;
  let file: string; // 12 MiB: 3 parts of 5 MiB with MULTIPART_PART_SIZE_BYTES=5 MiB
  let fileSha: string;
  let target: Awaited<ReturnType<typeof embedded.start>>['target'];
  const env = {
    DOWNLOAD_STRATEGY: 's3',
    MULTIPART_THRESHOLD_BYTES: String(10 * MiB),
    MULTIPART_PART_SIZE_BYTES: String(5 * MiB),
  };

  beforeAll(async () => {
    const s = await embedded.start();
    stop = s.stop;
    target = s.target;
    app = await startTestApp({ s3Target: s.target, env });
    shortUrls = await startTestApp({ s3Target: s.target, env: { ...env, UPLOAD_URL_TTL_SECONDS: '10' } });
    dir = await mkdtemp(path.join(tmpdir(), 'stowage-sdk-'));
    file = path.join(dir, 'data.bin');
    fileSha = await writeTestFile(file, 12 * MiB);
  });
  afterAll(async () => {
    await app?.close();
    await shortUrls?.close();
    await stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function clientFor(a: TestApp, ws = randomWorkspaceId(), disturb?: Parameters<typeof countingFetch>[1]) {
    const counter = countingFetch(a.baseUrl, disturb);
    const client = createClient({
      baseUrl: a.baseUrl,
      getToken: () => a.tokenFor(ws),
      fetch: counter.fetch,
      retry: { baseDelayMs: 20, maxDelayMs: 200 },
    });
    return { client, counter, ws };
  }

  test('a Blob goes as one PUT with its SHA-256 verified; list/get/download/delete', async () => {
    const { client, counter } = await clientFor(app);
    const bytes = new TextEncoder().encode('hello from the SDK\n');
    const h = client.upload(new Blob([bytes], { type: 'text/plain' }), { filename: 'hello.txt', checksum: true });
    const f = await h.done;
    expect(f).toMatchObject({ status: 'available', filename: 'hello.txt', size: bytes.length, uploadMethod: 'put' });
    expect(f.checksumSha256).toBe(createHash('sha256').update(bytes).digest('base64'));
    expect(counter.calls.map((c) => c.method)).toEqual(['PUT']);
    const list = await client.listFiles();
    expect(list.items.map((i) => i.id)).toEqual([f.id]);
    expect((await client.getFile(f.id)).status).toBe('available');
    expect(await (await client.download(f.id)).text()).toBe('hello from the SDK\n');
    const all = [];
    for await (const item of client.allFiles()) all.push(item.id);
    expect(all).toEqual([f.id]);
    await client.deleteFile(f.id);
    await client.deleteFile(f.id); // idempotent
    expect((await client.getFile(f.id)).status).toBe('deleted');
  });

  test('method "post" sends a form from a file path', async () => {
    const { client, counter } = await clientFor(app);
    const small = path.join(dir, 'small.txt');
    await writeTestFile(small, 1000);
    const f = await client.upload(small, { method: 'post', contentType: 'text/plain' }).done;
    expect(f).toMatchObject({ status: 'available', size: 1000, uploadMethod: 'post' });
    expect(counter.calls.map((c) => c.method)).toEqual(['POST']);
  });

  test('multipart with per-part SHA-256: storage verifies each part (a corrupted part is refused and sent again)', async () => {
    const { client, counter } = await clientFor(app, undefined, ({ partNumber, attempt }) =>
      partNumber === 2 && attempt === 0 ? 'corrupt' : undefined,
    );
    // Completion names each part's ETag and SHA-256 (AWS wants the checksums in the list): no listing needed.
    const listParts = vi.spyOn(app.deps.storage, 'listParts');
    const h = client.upload(file, { checksum: true });
    let listings: number;
    const f = await h.done.finally(() => {
      listings = listParts.mock.calls.length; // before mockRestore(), which clears the record
      listParts.mockRestore();
    });
    expect(listings!).toBe(0);
    expect(f).toMatchObject({ status: 'available', size: 12 * MiB, uploadMethod: 'multipart' });
    const part2 = counter.calls.filter((c) => c.partNumber === 2).map((c) => c.status);
    expect(part2).toEqual([400, 200]);
    expect(h.stats.retries).toBe(1);
    expect(await sha256OfResponse(await client.download(f.id))).toBe(fileSha);
  });

  test('multipart starts from the URLs in the create answer and completes with the parts\' ETags: no listing, no signing', async () => {
    const signAhead1 = await startTestApp({ s3Target: target, env: { ...env, MULTIPART_PARTS_SIGNED_AT_CREATE: '1' } });
    try {
      for (const [a, signRequests] of [[app, 0], [signAhead1, 1]] as const) {
        const ws = randomWorkspaceId();
        const counter = countingFetch(a.baseUrl);
        const apiCalls: string[] = [];
        const client = createClient({
          baseUrl: a.baseUrl,
          getToken: () => a.tokenFor(ws),
          fetch: (input, init) => {
            const url = new URL(input instanceof Request ? input.url : String(input));
            if (url.origin === new URL(a.baseUrl).origin) apiCalls.push(`${init?.method ?? 'GET'} ${url.pathname.replace(/[0-9a-f-]{36}/, ':id')}`);
            return counter.fetch(input, init);
          },
        });
        const listParts = vi.spyOn(a.deps.storage, 'listParts');
        try {
          // One part at a time: the parts not signed ahead (2 and 3) are then signed in one batch.
          const h = client.upload(file, { concurrency: 1 });
          const f = await h.done;
          expect(f).toMatchObject({ status: 'available', size: 12 * MiB, uploadMethod: 'multipart' });
          expect(h.stats.signRequests).toBe(signRequests);
          expect(apiCalls.filter((c) => c !== 'POST /v1/uploads/:id/parts')).toEqual([
            'GET /v1/uploads', // an unfinished upload of this file to resume?
            'POST /v1/uploads',
            'POST /v1/uploads/:id/complete',
          ]);
          expect(listParts).not.toHaveBeenCalled();
          expect(await sha256OfResponse(await client.download(f.id))).toBe(fileSha);
        } finally {
          listParts.mockRestore();
        }
      }
    } finally {
      await signAhead1.close();
    }
  });

  test('503 SlowDown and network errors are retried with backoff', async () => {
    const { client, counter } = await clientFor(app, undefined, ({ partNumber, attempt }) => {
      if (partNumber === 1 && attempt < 2) {
        return new Response('<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>', {
          status: 503,
        });
      }
      if (partNumber === 3 && attempt === 0) return new TypeError('fetch failed');
      return undefined;
    });
    const h = client.upload(file);
    const f = await h.done;
    expect(f.status).toBe('available');
    expect(counter.calls.filter((c) => c.partNumber === 1).map((c) => c.status)).toEqual([503, 503, 200]);
    expect(counter.calls.filter((c) => c.partNumber === 3).map((c) => c.status)).toEqual(['error', 200]);
    expect(h.stats.retries).toBe(3);
  });

  test('a storage error that is not transient fails the upload with the storage code', async () => {
    const { client } = await clientFor(app, undefined, ({ partNumber }) =>
      partNumber === 2 ? new Response('<Error><Code>AccessDenied</Code></Error>', { status: 403 }) : undefined,
    );
    const err = await client.upload(file).done.catch((e) => e);
    expect(err).toBeInstanceOf(StowageError);
    expect(err.message).toMatch(/403 AccessDenied/);
  });

  test('an expired part URL is signed again', async () => {
    // URLs live 10 s; part 2's URL (signed with part 1's batch) is used only after 11 s.
    const { client, counter } = await clientFor(shortUrls, undefined, async ({ partNumber, attempt }) => {
      if (partNumber === 2 && attempt === 0) await new Promise((r) => setTimeout(r, 11_000));
      return undefined;
    });
    const h = client.upload(file, { concurrency: 1 });
    const f = await h.done;
    expect(f.status).toBe('available');
    expect(counter.calls.filter((c) => c.partNumber === 2).map((c) => c.status)).toEqual([403, 200]);
    expect(h.stats.resigned).toBe(1);
  }, 60_000);

  test('pause stops sending, resume continues; progress reports rate and ETA', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { client, counter } = await clientFor(app, undefined, async ({ partNumber, attempt }) => {
      if (partNumber === 2 && attempt === 0) await gate;
      return undefined;
    });
    const events: UploadProgress[] = [];
    const h = client.upload(file, { concurrency: 1, onProgress: (p) => events.push(p) });
    await vi_waitFor(() => events.some((e) => e.partsDone === 1));
    h.pause();
    release();
    await new Promise((r) => setTimeout(r, 300));
    const before = counter.calls.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(counter.calls.length).toBe(before); // nothing sent while paused
    h.resume();
    const f = await h.done;
    expect(f.status).toBe('available');
    const last = events[events.length - 1]!;
    expect(last).toMatchObject({ bytesSent: 12 * MiB, total: 12 * MiB, partsDone: 3, partCount: 3, eta: 0 });
    expect(events.some((e) => e.rate > 0)).toBe(true);
    expect(await sha256OfResponse(await client.download(f.id))).toBe(fileSha);
  });

  test('abort() cancels and discards the upload: the reservation is released', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { client } = await clientFor(app, undefined, async ({ partNumber }) => {
      if (partNumber === 2) await gate;
      return undefined;
    });
    const h = client.upload(file, { concurrency: 1 });
    await vi_waitFor(() => h.progress().partsDone === 1);
    expect((await client.usage()).reservedBytes).toBe(12 * MiB);
    const aborting = h.abort();
    release();
    await aborting;
    expect(isAbortError(await h.done.catch((e) => e))).toBe(true);
    expect((await client.getFile(h.fileId!)).status).toBe('deleted');
    expect(await client.usage()).toMatchObject({ reservedBytes: 0, pendingCount: 0 });
    expect(await client.pendingUploads()).toEqual([]);
  });

  test('two different Blobs of the same size: the second is not completed with the first one\'s parts', async () => {
    const { client } = await clientFor(app);
    const a = new Blob([randomBytes(12 * MiB)]);
    const bBytes = randomBytes(12 * MiB);
    // The first stops (like a crash) once part 1 is in storage; the server keeps it pending.
    const ac = new AbortController();
    const h1 = client.upload(a, { concurrency: 1, signal: ac.signal, onProgress: (p) => p.partsDone >= 1 && ac.abort() });
    expect(isAbortError(await h1.done.catch((e) => e))).toBe(true);
    expect((await client.listParts(h1.fileId!)).parts.length).toBeGreaterThanOrEqual(1);
    const h2 = client.upload(new Blob([bBytes]));
    const f = await h2.done;
    expect(f.id).not.toBe(h1.fileId);
    expect(h2.stats.partsSkipped).toBe(0);
    expect(await sha256OfResponse(await client.download(f.id))).toBe(createHash('sha256').update(bBytes).digest('hex'));
    await client.abortUpload(h1.fileId!);
  });

  test('a single PUT from a path streams the file (a file-backed Blob with its length, not a buffer)', async () => {
    const counter = countingFetch(app.baseUrl);
    const ws = randomWorkspaceId();
    const bodies: unknown[] = [];
    const client = createClient({
      baseUrl: app.baseUrl,
      getToken: () => app.tokenFor(ws),
      fetch: (input, init) => {
        if (init?.method === 'PUT') bodies.push(init.body);
        return counter.fetch(input, init);
      },
    });
    const f = await client.upload(file, { method: 'put' }).done;
    expect(f).toMatchObject({ status: 'available', size: 12 * MiB, uploadMethod: 'put' });
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).toBeInstanceOf(Blob);
    expect(bodies[0]).not.toBeInstanceOf(Uint8Array);
    expect((bodies[0] as Blob).size).toBe(12 * MiB);
    expect(await sha256OfResponse(await client.download(f.id))).toBe(fileSha);
  });

  test('API errors carry the server code', async () => {
    const { client } = await clientFor(app);
    const err = await client.getFile('00000000-0000-4000-8000-000000000000').catch((e) => e);
    expect(err).toBeInstanceOf(StowageError);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
    const tooBig = await client
      .upload(new Blob([randomBytes(10)]), { filename: 'x.exe', contentType: 'application/x-msdownload' })
      .done.catch((e) => e);
    expect(tooBig).toMatchObject({ status: 415, code: 'content_type_not_allowed' });
  });
});

async function vi_waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
