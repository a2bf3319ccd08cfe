// One interface for every download strategy (edge | cloudfront | s3).
import type { DispositionType } from '../domain/disposition.ts';
import type { CustomPolicyOptions } from './cloudfront-format.ts';

export type { CustomPolicyOptions } from './cloudfront-format.ts';

export interface SignDownloadInput {
  /** Object key in the bucket. */
  key: string;
  /** Original filename (for Content-Disposition). */
  filename: string;
  contentType: string;
  /** Requested disposition; `inline` is only honoured for safe types (see src/domain/disposition.ts). */
  disposition?: DispositionType | null;
  /** Minimum lifetime; the expiry is rounded up to the signer's window. */
  ttlSeconds: number;
  now: Date;
  /** CloudFront/edge only: sign a custom policy instead of the canned one. */
  policy?: CustomPolicyOptions;
}

export interface SignedDownload {
  url: string;
  expiresAt: Date;
}

export interface DownloadSigner {
  readonly strategy: 'edge' | 'cloudfront' | 's3';
  sign(input: SignDownloadInput): Promise<SignedDownload>;
}
