// S3 for the edge tests. TODO: switch to test/helpers/s3-targets.ts (embedded store + RGW) once it lands.
// For now: Ceph RGW via RGW_ENDPOINT (+ RGW_ACCESS_KEY_ID / RGW_SECRET_ACCESS_KEY), falling back to S3_ENDPOINT and
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (what `. /tmp/rgw.env` exports).
import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

export interface EdgeS3Target {
  name: string;
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  bucket: string;
  client: S3Client;
  cleanup(): Promise<void>;
}

export function s3Env(): { name: string; endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } } | null {
  const e = process.env;
  const endpoint = e.RGW_ENDPOINT ?? e.S3_ENDPOINT;
  const accessKeyId = e.RGW_ENDPOINT ? e.RGW_ACCESS_KEY_ID : e.AWS_ACCESS_KEY_ID;
  const secretAccessKey = e.RGW_ENDPOINT ? e.RGW_SECRET_ACCESS_KEY : e.AWS_SECRET_ACCESS_KEY;
  if (!endpoint || !accessKeyId || !secretAccessKey) return null;
  return { name: e.RGW_ENDPOINT ? 'rgw' : 's3', endpoint, region: e.AWS_REGION ?? 'us-east-1', credentials: { accessKeyId, secretAccessKey } };
}

export async function createEdgeS3Target(): Promise<EdgeS3Target | null> {
  const env = s3Env();
  if (!env) return null;
  const client = new S3Client({
    endpoint: env.endpoint,
    region: env.region,
    credentials: env.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const bucket = `edge-test-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    ...env,
    bucket,
    client,
    async cleanup() {
      for (;;) {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
        const objs = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (objs.length === 0) break;
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objs } }));
      }
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}

export const S3_SKIP_MESSAGE =
  'edge tests SKIPPED: no S3 target (set RGW_ENDPOINT + RGW_ACCESS_KEY_ID + RGW_SECRET_ACCESS_KEY, or S3_ENDPOINT + AWS_* via `. /tmp/rgw.env`)';
