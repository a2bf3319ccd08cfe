// Bulk seeding of expired pending uploads for the worker tests and the cleanup benchmark: rows inserted with one
// INSERT … SELECT generate_series, the workspace's counters set to match (as create-upload would have reserved them),
// and objects written through the real S3 API with bounded concurrency.
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Db } from '../../src/db/pool.ts';

export interface SeedOptions {
  workspaceId: string;
  /** Expired pending rows to create. */
  count: number;
  /** Declared size of every row (bytes). */
  size: number;
  /** Which rows (by index 0..count-1) get an object, and its body. Default: none. */
  objectFor?: (i: number) => Uint8Array | null;
  contentType?: string;
  /** How long ago the rows expired (seconds, default 3600). */
  expiredAgoSeconds?: number;
  concurrency?: number;
}

export interface SeededRow {
  id: string;
  key: string;
  hasObject: boolean;
}

export async function seedExpiredUploads(db: Db, s3: S3Client, bucket: string, o: SeedOptions): Promise<SeededRow[]> {
  const contentType = o.contentType ?? 'image/png';
  await db.query(
    `INSERT INTO workspaces (id, max_file_size, allowed_content_types, quota_bytes, max_files, max_pending)
     VALUES ($1, 1000000000, ARRAY[$2], 1000000000000000, 100000000, 100000000)
     ON CONFLICT (id) DO NOTHING`,
    [o.workspaceId, contentType],
  );
  const r = await db.query<{ id: string; object_key: string }>(
    `INSERT INTO files (id, workspace_id, object_key, status, filename, content_type, size, upload_method, created_at, expires_at)
     SELECT u, $1, 'workspaces/' || $1 || '/files/' || u || '.png', 'pending', 'f' || g || '.png', $2, $3, 'put',
            now() - make_interval(secs => $5 + 60), now() - make_interval(secs => $5)
       FROM (SELECT gen_random_uuid() AS u, g FROM generate_series(1, $4) AS g) AS s
     RETURNING id, object_key`,
    [o.workspaceId, contentType, o.size, o.count, o.expiredAgoSeconds ?? 3600],
  );
  await db.query(
    'UPDATE workspaces SET reserved_bytes = reserved_bytes + $2, pending_count = pending_count + $3 WHERE id = $1',
    [o.workspaceId, o.size * o.count, o.count],
  );
  const rows: SeededRow[] = r.rows.map((row) => ({ id: row.id, key: row.object_key, hasObject: false }));
  const withObjects = rows.map((row, i) => ({ row, body: o.objectFor?.(i) ?? null })).filter((x) => x.body !== null);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.concurrency ?? 64, withObjects.length) }, async () => {
      while (next < withObjects.length) {
        const { row, body } = withObjects[next++]!;
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: row.key, Body: body!, ContentType: contentType }));
        row.hasObject = true;
      }
    }),
  );
  return rows;
}
