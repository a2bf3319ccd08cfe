// Multipart through the real HTTP server, real Postgres and real S3 (embedded store; RGW when configured).
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { randomBytes } from 'node:crypto';
import { UploadPartCommand } from '@aws-sdk/client-s3';
import { startTestApp, randomWorkspaceId, type TestApp } from '../helpers/app.ts';
import { makeS3Client } from '../helpers/s3-targets.ts';
import { apiTargets } from './support.ts';

const MiB = 1024 * 1024;

describe.each(apiTargets())('multipart uploads on $name', (t) => {
  let app: TestApp;
  let stop: () => Promise<void>;
  let target: Awaited<ReturnType<typeof t.start>>['target'];
  const data = randomBytes(12 * MiB); // 3 parts of 5, 5 and 2 MiB

  beforeAll(async () => {
    const s = await t.start();
    stop = s.stop;
    target = s.target;
    app = await startTestApp({
      s3Target: s.target,
      env: { MULTIPART_THRESHOLD_BYTES: String(10 * MiB), MULTIPART_PART_SIZE_BYTES: String(5 * MiB) },
    });
  });
  afterAll(async () => {
    await app?.close();
    await stop?.();
  });

  async function json(ws: string, path: string, init: RequestInit & { json?: unknown } = {}) {
    const r = await app.api(ws, path, init);
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : undefined) as any };
  }

  async function create(ws: string, extra: Record<string, unknown> = {}) {
    return json(ws, '/v1/uploads', {
      method: 'POST',
      json: { filename: 'data.bin', contentType: 'application/octet-stream', size: data.length, ...extra },
    });
  }

  async function putPart(ws: string, id: string, n: number, body: Uint8Array = partBytes(n)) {
    const signed = await json(ws, `/v1/uploads/${id}/parts`, { method: 'POST', json: { partNumbers: [n] } });
    expect(signed.status).toBe(200);
    const p = signed.body.parts[0];
    return fetch(p.url, { method: 'PUT', body: body as BodyInit });
  }

  /** Sends a part with storage credentials, around Stowage's URLs (which sign each part's size); its ETag. */
  async function putPartBehindStowage(id: string, partNumber: number, body: Uint8Array): Promise<string> {
    const row = (await app.deps.db.query('SELECT object_key, multipart_upload_id FROM files WHERE id = $1', [id])).rows[0];
    const s3 = makeS3Client(target.endpoint, target.region ?? 'us-east-1', target);
    try {
      const r = await s3.send(
        new UploadPartCommand({ Bucket: app.config.s3.bucket, Key: row.object_key, UploadId: row.multipart_upload_id, PartNumber: partNumber, Body: body }),
      );
      return r.ETag!;
    } finally {
      s3.destroy();
    }
  }

  function partBytes(n: number): Uint8Array {
    return data.subarray((n - 1) * 5 * MiB, Math.min(data.length, n * 5 * MiB));
  }

  test('above the threshold the server chooses multipart; parts, list, complete → available', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { fingerprint: 'fp-' + ws });
    expect(c.status).toBe(201);
    expect(c.body.upload).toMatchObject({ method: 'MULTIPART', uploadId: c.body.file.id, partSize: 5 * MiB, partCount: 3 });
    expect(c.body.file.uploadMethod).toBe('multipart');
    const id = c.body.file.id;

    // Signing is lazy and batched: one URL per asked part, each with that part's exact size.
    const signed = await json(ws, `/v1/uploads/${id}/parts`, { method: 'POST', json: { partNumbers: [3, 1, 2] } });
    expect(signed.status).toBe(200);
    expect(signed.body.parts.map((p: any) => [p.partNumber, p.size])).toEqual([[3, 2 * MiB], [1, 5 * MiB], [2, 5 * MiB]]);
    expect(Date.parse(signed.body.expiresAt)).toBeGreaterThan(Date.now());
    const bad = await json(ws, `/v1/uploads/${id}/parts`, { method: 'POST', json: { partNumbers: [4] } });
    expect(bad.status).toBe(400);

    for (const p of signed.body.parts) {
      const r = await fetch(p.url, { method: 'PUT', body: partBytes(p.partNumber) as BodyInit });
      expect(r.status).toBe(200);
    }
    const listed = await json(ws, `/v1/uploads/${id}/parts`);
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ partSize: 5 * MiB, partCount: 3 });
    expect(listed.body.parts.map((p: any) => [p.partNumber, p.size])).toEqual([[1, 5 * MiB], [2, 5 * MiB], [3, 2 * MiB]]);

    // The unfinished upload can be found again by its fingerprint.
    const pending = await json(ws, `/v1/uploads?status=pending&fingerprint=${encodeURIComponent('fp-' + ws)}`);
    expect(pending.body.items.map((f: any) => f.id)).toEqual([id]);

    const done = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect(done.status).toBe(200);
    expect(done.body.file).toMatchObject({ status: 'available', size: data.length, uploadMethod: 'multipart' });
    const again = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect(again.status).toBe(200);
    expect(again.body.file).toEqual(done.body.file);
    const usage = await json(ws, '/v1/usage');
    expect(usage.body).toMatchObject({ usedBytes: data.length, reservedBytes: 0, fileCount: 1, pendingCount: 0 });
    expect((await app.api(ws, `/v1/files/${id}`, { method: 'DELETE' })).status).toBe(204);
  });

  test('a part of the wrong size is refused by storage (its Content-Length is signed)', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id;
    const r = await putPart(ws, id, 1, partBytes(1).subarray(0, 3 * MiB));
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    const listed = await json(ws, `/v1/uploads/${id}/parts`);
    expect(listed.body.parts).toEqual([]);
    expect((await app.api(ws, `/v1/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
  });

  test('complete with missing parts → 409 naming them; the upload stays pending and can be finished', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id;
    expect((await putPart(ws, id, 1)).status).toBe(200);
    const early = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/missing parts 2, 3/);
    expect(early.body.error.details.missingParts).toEqual([2, 3]);
    expect((await json(ws, `/v1/files/${id}`)).body.file.status).toBe('pending');
    expect((await putPart(ws, id, 2)).status).toBe(200);
    expect((await putPart(ws, id, 3)).status).toBe(200);
    const done = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect(done.status).toBe(200);
    expect(done.body.file.status).toBe('available');
    await app.api(ws, `/v1/files/${id}`, { method: 'DELETE' });
  });

  test('a part of the wrong size that reached storage another way is named at complete', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id;
    expect((await putPart(ws, id, 1)).status).toBe(200);
    expect((await putPart(ws, id, 3)).status).toBe(200);
    await putPartBehindStowage(id, 2, partBytes(2).subarray(0, 4 * MiB)); // 4 MiB instead of 5
    const r = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
    expect(r.status).toBe(409);
    expect(r.body.error.message).toContain(`part 2 is ${4 * MiB} bytes, expected ${5 * MiB}`);
    expect(r.body.error.details.wrongSizeParts).toEqual([{ partNumber: 2, expected: 5 * MiB, actual: 4 * MiB }]);
    expect((await app.api(ws, `/v1/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
  });

  test('the create answer carries the part URLs; a complete naming every ETag spares listing the parts', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    expect(c.status).toBe(201);
    const parts = c.body.upload.parts as { partNumber: number; url: string; headers: Record<string, string>; size: number }[];
    expect(parts.map((p) => [p.partNumber, p.size])).toEqual([[1, 5 * MiB], [2, 5 * MiB], [3, 2 * MiB]]);
    expect(Date.parse(c.body.upload.partsExpireAt)).toBeGreaterThan(Date.now());
    const etags: { partNumber: number; etag: string }[] = [];
    for (const p of parts) {
      const r = await fetch(p.url, { method: 'PUT', headers: p.headers, body: partBytes(p.partNumber) as BodyInit });
      expect(r.status).toBe(200);
      etags.push({ partNumber: p.partNumber, etag: r.headers.get('etag')! });
    }
    const listParts = vi.spyOn(app.deps.storage, 'listParts');
    try {
      const id = c.body.file.id;
      const done = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST', json: { parts: etags.reverse() } });
      expect(done.status).toBe(200);
      expect(done.body.file).toMatchObject({ status: 'available', size: data.length });
      expect(listParts).not.toHaveBeenCalled();
      const key = (await app.deps.db.query('SELECT object_key FROM files WHERE id = $1', [id])).rows[0].object_key;
      const stored = await app.deps.storage.rangeGet(key, 0, data.length - 1);
      expect(Buffer.from(stored!).equals(data)).toBe(true);
    } finally {
      listParts.mockRestore();
    }
  });

  test('a completion running past the upload\'s expiry holds a lease: the sweeper cannot expire it meanwhile', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id as string;
    for (const p of c.body.upload.parts as { partNumber: number; url: string; headers: Record<string, string> }[]) {
      expect((await fetch(p.url, { method: 'PUT', headers: p.headers, body: partBytes(p.partNumber) as BodyInit })).status).toBe(200);
    }
    // Expired a minute ago, not yet swept: the client's complete comes in just now.
    await app.deps.db.query("UPDATE files SET expires_at = now() - interval '1 minute' WHERE id = $1", [id]);
    const { sweepExpired } = await import('../../src/services/sweep-expired.ts');
    let sweptDuringCompletion: number | null = null;
    const complete = vi.spyOn(app.deps.storage, 'completeMultipart').mockImplementation(async function (this: unknown, ...args) {
      // The sweeper runs while storage is completing the upload (it would find no object yet).
      sweptDuringCompletion = (await sweepExpired(app.deps, { workspaceId: ws })).expired;
      complete.mockRestore();
      return app.deps.storage.completeMultipart(...args);
    });
    try {
      const done = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST' });
      expect(sweptDuringCompletion).toBe(0);
      expect(done.status).toBe(200);
      expect(done.body.file.status).toBe('available');
    } finally {
      complete.mockRestore();
    }
  });

  test('a completion that fails gives its lease back: the upload expires on time', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id as string;
    const past = (await app.deps.db.query("UPDATE files SET expires_at = date_trunc('milliseconds', now()) - interval '1 minute' WHERE id = $1 RETURNING expires_at", [id])).rows[0].expires_at as Date;
    const done = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST' }); // no part was sent
    expect(done.status).toBe(409);
    const after = (await app.deps.db.query('SELECT expires_at, status FROM files WHERE id = $1', [id])).rows[0];
    expect(after).toEqual({ expires_at: past, status: 'pending' });
  });

  test('two completions leasing the same upload: the one that fails gives back only its own lease', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id as string;
    const { extendPendingExpiry, restorePendingExpiry } = await import('../../src/db/files.ts');
    const past = (await app.deps.db.query("UPDATE files SET expires_at = date_trunc('milliseconds', now()) - interval '1 minute' WHERE id = $1 RETURNING expires_at", [id])).rows[0].expires_at as Date;
    const ta = new Date(Date.now() + 5 * 60_000);
    const tb = new Date(Date.now() + 10 * 60_000);
    const a = await extendPendingExpiry(app.deps.db, id, ta); // A: a slow completion, still running
    const b = await extendPendingExpiry(app.deps.db, id, tb); // B: its retry, which fails
    expect(a!.replaced).toEqual(past);
    expect(b!.replaced).toEqual(ta);
    await restorePendingExpiry(app.deps.db, id, b!.replaced, tb);
    // A's lease holds: the sweeper still cannot expire the upload under A.
    expect((await app.deps.db.query('SELECT expires_at FROM files WHERE id = $1', [id])).rows[0].expires_at).toEqual(ta);
  });

  test('no part URLs in the create answer when the parts will carry checksums (each URL must sign one)', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart', partChecksums: true });
    expect(c.status).toBe(201);
    expect(c.body.upload).toMatchObject({ method: 'MULTIPART', partCount: 3 });
    expect(c.body.upload.parts).toBeUndefined();
    expect((await app.api(ws, `/v1/uploads/${c.body.file.id}`, { method: 'DELETE' })).status).toBe(204);
  });

  test('a part list storage refuses falls back to the stored parts: wrong ETags still complete, a missing part is named', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id;
    const bogus = [1, 2, 3].map((partNumber) => ({ partNumber, etag: `"${'0'.repeat(32)}"` }));
    expect((await putPart(ws, id, 1)).status).toBe(200);
    expect((await putPart(ws, id, 2)).status).toBe(200);
    const early = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST', json: { parts: bogus } });
    expect(early.status).toBe(409);
    expect(early.body.error.details.missingParts).toEqual([3]);
    expect((await putPart(ws, id, 3)).status).toBe(200);
    const done = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST', json: { parts: bogus } });
    expect(done.status).toBe(200);
    expect(done.body.file.status).toBe('available');
    await app.api(ws, `/v1/files/${id}`, { method: 'DELETE' });
  });

  test('a part list that does not name every part once is a 400 and changes nothing', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id;
    const e = (partNumber: number) => ({ partNumber, etag: '"x"' });
    const cases: [unknown, RegExp][] = [
      [[e(1), e(2)], /all 3 parts/],
      [[e(1), e(2), e(2)], /listed twice/],
      [[e(1), e(2), e(7)], /outside 1\.\.3/],
      [[{ partNumber: 1 }], /parts\.0\.etag/],
      ['all', /parts/],
      // The largest list a client can send (10,000 parts with checksums, ~1.5 MB) is read, not refused for its size.
      [Array.from({ length: 10_000 }, (_, i) => ({ ...e(i + 1), etag: `"${'a'.repeat(32)}"`, checksumSha256: 'A'.repeat(43) + '=' })), /all 3 parts of the upload \(got 10000\)/],
    ];
    for (const [parts, message] of cases) {
      const r = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST', json: { parts } });
      expect(r.status, JSON.stringify(parts)).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
      expect(r.body.error.message).toMatch(message);
    }
    expect((await json(ws, `/v1/files/${id}`)).body.file.status).toBe('pending');
    const single = await json(ws, '/v1/uploads', {
      method: 'POST',
      json: { filename: 'a.bin', contentType: 'application/octet-stream', size: 10, method: 'put' },
    });
    const r = await json(ws, `/v1/uploads/${single.body.file.id}/complete`, { method: 'POST', json: { parts: [e(1)] } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/only to multipart/);
    await app.api(ws, `/v1/uploads/${id}`, { method: 'DELETE' });
  });

  test('a claimed part list still ends in whole-object verification: a wrong-size part is a rejected file', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id;
    const etags: { partNumber: number; etag: string }[] = [];
    for (const n of [1, 3]) {
      const r = await putPart(ws, id, n);
      etags.push({ partNumber: n, etag: r.headers.get('etag')! });
    }
    etags.push({ partNumber: 2, etag: await putPartBehindStowage(id, 2, randomBytes(6 * MiB)) }); // 6 MiB instead of 5
    const r = await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST', json: { parts: etags } });
    expect(r.status).toBe(422);
    expect(r.body.error.details.file).toMatchObject({ status: 'rejected', rejectReason: 'size_mismatch' });
    expect((await json(ws, '/v1/usage')).body).toMatchObject({ usedBytes: 0, reservedBytes: 0, pendingCount: 0 });
  });

  test('abort frees the reservation, is idempotent, and the upload is gone', async () => {
    const ws = randomWorkspaceId();
    const c = await create(ws, { method: 'multipart' });
    const id = c.body.file.id;
    expect((await putPart(ws, id, 1)).status).toBe(200);
    expect((await json(ws, '/v1/usage')).body).toMatchObject({ reservedBytes: data.length, pendingCount: 1 });
    expect((await app.api(ws, `/v1/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await app.api(ws, `/v1/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await json(ws, '/v1/usage')).body).toMatchObject({ reservedBytes: 0, pendingCount: 0, usedBytes: 0 });
    expect((await json(ws, `/v1/uploads/${id}/parts`, { method: 'POST', json: { partNumbers: [2] } })).status).toBe(409);
    expect((await json(ws, `/v1/uploads/${id}/complete`, { method: 'POST' })).status).toBe(409);
    // Storage no longer holds the multipart upload.
    const row = (await app.deps.db.query('SELECT object_key, multipart_upload_id FROM files WHERE id = $1', [id])).rows[0];
    expect(await app.deps.storage.listParts(row.object_key, row.multipart_upload_id).catch(() => null)).toBeNull();
  });

  test("another workspace's uploadId is a 404 everywhere", async () => {
    const owner = randomWorkspaceId();
    const other = randomWorkspaceId();
    const c = await create(owner, { method: 'multipart' });
    const id = c.body.file.id;
    const calls: Array<[string, RequestInit & { json?: unknown }]> = [
      [`/v1/uploads/${id}/parts`, { method: 'POST', json: { partNumbers: [1] } }],
      [`/v1/uploads/${id}/parts`, {}],
      [`/v1/uploads/${id}/complete`, { method: 'POST' }],
      [`/v1/uploads/${id}`, { method: 'DELETE' }],
    ];
    for (const [path, init] of calls) {
      const r = await json(other, path, init);
      expect(r.status, path).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    // Still intact for its owner.
    expect((await json(owner, `/v1/uploads/${id}/parts`)).status).toBe(200);
    expect((await app.api(owner, `/v1/uploads/${id}`, { method: 'DELETE' })).status).toBe(204);
  });
});
