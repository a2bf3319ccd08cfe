// Presigned S3 GET URLs (for stores without a CDN). Content-Disposition and Content-Type are set per URL with the
// response-content-disposition / response-content-type query parameters, which S3 honours on signed requests.
// The signing time is pinned to the expiry window, so repeated requests within a window get the identical URL.
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { contentDisposition } from '../domain/disposition.ts';
import { roundExpiry } from './expiry.ts';
import type { DownloadSigner, SignDownloadInput, SignedDownload } from './signer.ts';

/** SigV4 presigned URLs are valid for at most 7 days. */
export const S3_MAX_PRESIGN_SECONDS = 604_800;

export interface S3PresignSignerOptions {
  client: S3Client;
  bucket: string;
  windowSeconds?: number;
}

export class S3PresignSigner implements DownloadSigner {
  readonly strategy = 's3' as const;
  private readonly windowSeconds: number;

  constructor(private readonly opts: S3PresignSignerOptions) {
    this.windowSeconds = opts.windowSeconds ?? 300;
  }

  async sign(input: SignDownloadInput): Promise<SignedDownload> {
    if (input.policy) throw new Error('S3 presigned URLs do not support custom policies');
    const ttl = Math.min(Math.ceil(input.ttlSeconds), S3_MAX_PRESIGN_SECONDS - this.windowSeconds);
    const w = roundExpiry(input.now, ttl, this.windowSeconds);
    const disp = contentDisposition({ filename: input.filename, contentType: input.contentType, requested: input.disposition });
    const command = new GetObjectCommand({
      Bucket: this.opts.bucket,
      Key: input.key,
      ResponseContentDisposition: disp.header,
      ResponseContentType: input.contentType,
    });
    const url = await getSignedUrl(this.opts.client, command, {
      expiresIn: w.lifetimeFromWindowStart,
      signingDate: w.windowStart,
    });
    return { url, expiresAt: w.expiresAt };
  }
}

export function createS3PresignSigner(opts: S3PresignSignerOptions): S3PresignSigner {
  return new S3PresignSigner(opts);
}
