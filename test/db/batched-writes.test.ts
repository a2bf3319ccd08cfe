// Request handlers' reservations and workspace lookups are coalesced into shared statements (db/coalescer.ts,
// migration 090). These tests run against the real Postgres and check that batching happens and changes nothing a
// caller can observe: limits hold per workspace inside one batch, and a failing row fails only its own call.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomUUID } from 'node:crypto';
import { createPool, type Db } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';
import { getFile, insertReservedFile, type NewFile } from '../../src/db/files.ts';
import { ensureWorkspace, getWorkspace, setWorkspaceLimits } from '../../src/db/workspaces.ts';
import { randomWorkspaceId } from '../helpers/app.ts';

const DEFAULTS = { maxFileSize: 1 << 30, allowedContentTypes: ['*/*'], quotaBytes: 1 << 30, maxFiles: 1000, maxPending: 1000 };

function newFile(workspaceId: string, size = 100, over: Partial<NewFile> = {}): NewFile {
  const id = randomUUID();
  return {
    id, workspaceId, objectKey: `workspaces/${workspaceId}/files/${id}.txt`, filename: 'a.txt', contentType: 'text/plain',
    size, checksumSha256: null, metadata: { n: 1 }, uploader: 'u', uploadMethod: 'put', createdAt: new Date(),
    expiresAt: new Date(Date.now() + 3600_000), ...over,
  };
}

describe('coalesced reservations and lookups (real Postgres)', () => {
  let db: Db;
  const statements: string[] = [];
  beforeAll(async () => {
    db = createPool(process.env.DATABASE_URL!);
    await migrate(db);
    const query = db.query.bind(db) as (...a: unknown[]) => unknown;
    (db as unknown as { query: unknown }).query = (...a: unknown[]) => {
      if (typeof a[0] === 'string') statements.push(a[0]);
      return query(...a);
    };
  });
  afterAll(async () => {
    await db?.end();
  });

  test('concurrent reservations over three workspaces share statements; each workspace limit holds exactly', async () => {
    const wss = [randomWorkspaceId(), randomWorkspaceId(), randomWorkspaceId()];
    for (const [i, ws] of wss.entries()) {
      await ensureWorkspace(db, ws, DEFAULTS);
      await setWorkspaceLimits(db, ws, { maxPending: 5 + i, quotaBytes: 100_000 });
    }
    statements.length = 0;
    const files = Array.from({ length: 60 }, (_, i) => newFile(wss[i % 3]!, 1000));
    const results = await Promise.all(files.map((f) => insertReservedFile(db, f)));
    const batched = statements.filter((s) => s.includes('stowage_insert_reserved_files'));
    expect(batched.length).toBeGreaterThan(0);
    expect(statements.length).toBeLessThan(30); // 60 calls, far fewer statements
    for (const [i, ws] of wss.entries()) {
      const mine = results.filter((r, j) => files[j]!.workspaceId === ws);
      const ok = mine.filter((r) => r !== null);
      expect(ok).toHaveLength(5 + i);
      for (const r of ok) expect(r).toMatchObject({ workspaceId: ws, status: 'pending', size: 1000, metadata: { n: 1 } });
      // The batch answers exactly the row a later read returns.
      for (const r of ok) expect(r).toEqual(await getFile(db, ws, r!.id));
      expect(await getWorkspace(db, ws)).toMatchObject({ reservedBytes: (5 + i) * 1000, pendingCount: 5 + i });
      const rows = await db.query('SELECT count(*)::int AS n FROM files WHERE workspace_id = $1', [ws]);
      expect(rows.rows[0].n).toBe(5 + i);
    }
  });

  test('the batch statement admits rows per workspace in arrival order, each on top of those admitted before it', async () => {
    const [a, b] = [randomWorkspaceId(), randomWorkspaceId()];
    await ensureWorkspace(db, a, DEFAULTS);
    await ensureWorkspace(db, b, DEFAULTS);
    await setWorkspaceLimits(db, a, { quotaBytes: 1000 });
    await setWorkspaceLimits(db, b, { maxPending: 2 });
    // Interleaved workspaces; in a: 600 fits, 500 does not (1,100 > 1,000), 400 still does (1,000), 1 does not.
    const plan: [string, number][] = [[a, 600], [b, 10], [a, 500], ['no-such-workspace', 1], [b, 10], [a, 400], [b, 10], [a, 1]];
    const rows = plan.map(([ws, size], ord) => {
      const f = newFile(ws, size);
      return { ord, id: f.id, workspace_id: ws, object_key: f.objectKey, filename: 'a.txt', content_type: 'text/plain', size,
        checksum_sha256: null, metadata: {}, uploader: 'u', upload_method: 'put', multipart_upload_id: null, part_size: null,
        part_count: null, fingerprint: null, created_at: new Date(), expires_at: new Date(Date.now() + 3600_000) };
    });
    const r = await db.query('SELECT id FROM stowage_insert_reserved_files($1::jsonb)', [JSON.stringify(rows)]);
    const admitted = new Set(r.rows.map((x: { id: string }) => x.id));
    expect(rows.map((x) => admitted.has(x.id))).toEqual([true, true, false, false, true, true, false, false]);
    expect(await getWorkspace(db, a)).toMatchObject({ reservedBytes: 1000, pendingCount: 2 });
    expect(await getWorkspace(db, b)).toMatchObject({ reservedBytes: 20, pendingCount: 2 });
  });

  test('a row that violates a constraint fails only its own call; the rest of the batch is inserted', async () => {
    const ws = randomWorkspaceId();
    await ensureWorkspace(db, ws, DEFAULTS);
    const taken = newFile(ws);
    expect(await insertReservedFile(db, taken)).not.toBeNull();
    statements.length = 0;
    const files = Array.from({ length: 20 }, () => newFile(ws));
    files[7] = newFile(ws, 100, { objectKey: taken.objectKey }); // object_key is UNIQUE
    const settled = await Promise.allSettled(files.map((f) => insertReservedFile(db, f)));
    expect(statements.some((s) => s.includes('stowage_insert_reserved_files'))).toBe(true);
    expect(settled[7]!.status).toBe('rejected');
    expect(settled.filter((s) => s.status === 'fulfilled' && s.value !== null)).toHaveLength(19);
    // The failed row reserved nothing: 1 + 19 rows, each 100 bytes.
    expect(await getWorkspace(db, ws)).toMatchObject({ reservedBytes: 2000, pendingCount: 20 });
  });

  test('concurrent lookups of several workspaces share one SELECT and each caller gets its own workspace', async () => {
    const wss = [randomWorkspaceId(), randomWorkspaceId()];
    for (const ws of wss) await ensureWorkspace(db, ws, DEFAULTS);
    await setWorkspaceLimits(db, wss[1]!, { maxPending: 7 });
    statements.length = 0;
    const ids = [...Array.from({ length: 20 }, (_, i) => wss[i % 2]!), 'ws-does-not-exist'];
    const rows = await Promise.all(ids.map((id) => getWorkspace(db, id)));
    expect(statements.length).toBeLessThan(6);
    rows.forEach((r, i) => (ids[i] === 'ws-does-not-exist' ? expect(r).toBeNull() : expect(r!.id).toBe(ids[i])));
    expect(rows[1]!.maxPending).toBe(7);
    // A lookup made after a write sees it (batches only start after their calls were made).
    await setWorkspaceLimits(db, wss[0]!, { maxPending: 9 });
    expect((await getWorkspace(db, wss[0]!))!.maxPending).toBe(9);
  });
});
