// Shared pieces of the API suites: the S3 targets to run against, and small HTTP helpers.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { S3TargetLike } from '../helpers/app.ts';
import { RGW_SKIP_MESSAGE, rgwEnv, s3Targets } from '../helpers/s3-targets.ts';

export interface ApiTarget {
  name: string;
  start(): Promise<{ target: S3TargetLike; stop(): Promise<void> }>;
}

/** The embedded object store always; Ceph RGW when RGW_ENDPOINT (+ keys) is set, otherwise logged as skipped. */
export function apiTargets(): ApiTarget[] {
  if (!rgwEnv() && !loggedSkip) {
    loggedSkip = true;
    console.warn(`[stowage tests] ${RGW_SKIP_MESSAGE}`);
  }
  return s3Targets().map((t) => ({
    name: t.name,
    async start() {
      await t.start();
      const bucket = await t.createBucket('stowage-api');
      return {
        target: { name: t.name, endpoint: t.endpoint, region: t.region, ...t.credentials, bucket },
        stop: () => t.stop(),
      };
    },
  }));
}
let loggedSkip = false;

export function sha256b64(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('base64');
}

export const PNG_1x1 = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082',
  'hex',
);

/** A raw HTTP request (lets a test send headers fetch would refuse, e.g. a Content-Length that lies). */
export function rawRequest(
  url: string,
  opts: { method: string; headers: Record<string, string>; body: Buffer },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: opts.method, headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function uploadPut(
  upload: { url: string; headers: Record<string, string> },
  body: Uint8Array,
  overrideHeaders: Record<string, string> = {},
): Promise<Response> {
  return fetch(upload.url, { method: "PUT", headers: { ...upload.headers, ...overrideHeaders }, body: body as Uint8Array<ArrayBuffer> });
}

export async function uploadPost(
  upload: { url: string; fields: Record<string, string> },
  body: Uint8Array,
  filename = 'file',
): Promise<Response> {
  const form = new FormData();
  for (const [k, v] of Object.entries(upload.fields)) form.append(k, v);
  form.append("file", new Blob([body as Uint8Array<ArrayBuffer>]), filename);
  return fetch(upload.url, { method: 'POST', body: form });
}
