// Helpers for worker tests: a second, independent set of service deps (own pool, own S3 client) for racing workers,
// and counting a prefix's objects through the S3 API.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import pino from 'pino';
import { createPool } from '../../src/db/pool.ts';
import type { Deps } from '../../src/services/deps.ts';
import { S3Storage } from '../../src/storage/s3-adapter.ts';
import type { TestApp } from './app.ts';

export function secondWorkerDeps(t: TestApp): Deps & { close(): Promise<void> } {
  const c = t.config;
  const db = createPool(c.databaseUrl!, { max: 5 });
  const storage = new S3Storage({ endpoint: c.s3.endpoint, region: c.s3.region, bucket: c.s3.bucket, accessKeyId: c.s3.accessKeyId, secretAccessKey: c.s3.secretAccessKey, forcePathStyle: true });
  return { config: c, db, storage, log: pino({ level: 'silent' }), now: () => new Date(), close: async () => { await db.end(); storage.destroy(); } };
}

export async function countObjects(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    n += r.KeyCount ?? 0;
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return n;
}
