// S3 for the edge tests: the shared targets (test/helpers/s3-targets.ts): the embedded object store always, Ceph RGW
// when RGW_ENDPOINT (+ RGW_ACCESS_KEY_ID, RGW_SECRET_ACCESS_KEY) is set.
import type { S3Client } from '@aws-sdk/client-s3';
import { RGW_SKIP_MESSAGE, rgwEnv, s3Targets, type S3Target } from '../helpers/s3-targets.ts';

export interface EdgeS3Target {
  name: string;
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  bucket: string;
  client: S3Client;
  cleanup(): Promise<void>;
}

let logged = false;
export function edgeTargets(): S3Target[] {
  if (!rgwEnv() && !logged) {
    logged = true;
    console.warn(`[edge tests] ${RGW_SKIP_MESSAGE}`);
  }
  return s3Targets();
}

/** Starts the target and creates a fresh bucket; cleanup() removes it and stops the target. */
export async function openEdgeTarget(t: S3Target): Promise<EdgeS3Target> {
  await t.start();
  const bucket = await t.createBucket('edge');
  return {
    name: t.name,
    endpoint: t.endpoint,
    region: t.region,
    credentials: t.credentials,
    bucket,
    client: t.client(),
    cleanup: () => t.stop(),
  };
}
