// Builds the configured DownloadSigner (edge | cloudfront | s3) once per configuration.
import { readFileSync } from 'node:fs';
import type { S3Client } from '@aws-sdk/client-s3';
import { ensureEdgeKeyPair } from '../edge/keys.ts';
import { CloudFrontSigner } from './cloudfront.ts';
import { createEdgeSigner } from './edge.ts';
import { createS3PresignSigner } from './s3-presign.ts';
import type { DownloadSigner } from './signer.ts';

export type DownloadStrategy = 'edge' | 'cloudfront' | 's3';

/** The part of the configuration the signers need (Config['downloads'] has this shape). */
export interface DownloadsSettings {
  strategy: DownloadStrategy;
  ttlSeconds: number;
  windowSeconds: number;
  /** CloudFront distribution URL (cloudfront) or the edge's public URL (edge). */
  cdnBaseUrl?: string;
  keyPairId?: string;
  /** PEM; for `edge` it may be omitted and the key pair in the data directory is used. */
  privateKey?: string;
  privateKeyFile?: string;
  algorithm?: 'SHA1' | 'SHA256';
}

export interface SignerContext {
  dataDir: string;
  bucket: string;
  /** Needed for `s3` (presigning); ignored otherwise. */
  s3Client?: S3Client;
}

function privateKeyOf(s: DownloadsSettings): string | undefined {
  if (s.privateKey) return s.privateKey.replace(/\\n/g, '\n');
  if (s.privateKeyFile) return readFileSync(s.privateKeyFile, 'utf8');
  return undefined;
}

export async function createDownloadSigner(s: DownloadsSettings, ctx: SignerContext): Promise<DownloadSigner> {
  switch (s.strategy) {
    case 's3': {
      if (!ctx.s3Client) throw new Error('download strategy s3 needs an S3 client');
      return createS3PresignSigner({ client: ctx.s3Client, bucket: ctx.bucket, windowSeconds: s.windowSeconds });
    }
    case 'cloudfront': {
      const privateKey = privateKeyOf(s);
      if (!s.cdnBaseUrl || !s.keyPairId || !privateKey) {
        throw new Error('download strategy cloudfront needs CDN_BASE_URL, CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY(_FILE)');
      }
      return new CloudFrontSigner({
        baseUrl: s.cdnBaseUrl,
        keyPairId: s.keyPairId,
        privateKey,
        windowSeconds: s.windowSeconds,
        algorithm: s.algorithm,
      });
    }
    case 'edge': {
      if (!s.cdnBaseUrl) throw new Error('download strategy edge needs CDN_BASE_URL (the edge URL)');
      let keyPairId = s.keyPairId;
      let privateKey = privateKeyOf(s);
      if (!keyPairId || !privateKey) {
        const pair = await ensureEdgeKeyPair(ctx.dataDir);
        keyPairId = pair.keyPairId;
        privateKey = pair.privateKeyPem;
      }
      return createEdgeSigner({ baseUrl: s.cdnBaseUrl, keyPairId, privateKey, windowSeconds: s.windowSeconds });
    }
  }
}

const cache = new WeakMap<object, Promise<DownloadSigner>>();

/** One signer per settings object (the Config is built once per process). */
export function downloadSignerFor(s: DownloadsSettings, ctx: SignerContext): Promise<DownloadSigner> {
  let p = cache.get(s);
  if (!p) {
    p = createDownloadSigner(s, ctx);
    cache.set(s, p);
    p.catch(() => cache.delete(s));
  }
  return p;
}
