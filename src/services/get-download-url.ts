// GET /v1/files/:id/download — a signed download URL for an `available` file of the caller's workspace.
// Everything else (other workspaces, pending/rejected/deleted files, unknown ids) is 404.
import type { S3Client } from '@aws-sdk/client-s3';
import type { DownloadsConfig } from '../config/index.ts';
import { getFile } from '../db/files.ts';
import type { DispositionType } from '../domain/disposition.ts';
import { isUuid, workspacePrefix } from '../domain/keys.ts';
import { errors } from '../errors/index.ts';
import { CloudFrontSigner, type SignedCookies } from '../cdn/cloudfront.ts';
import { downloadSignerFor } from '../cdn/factory.ts';
import type { CustomPolicyOptions, DownloadSigner } from '../cdn/signer.ts';
import { createS3Client } from '../storage/s3-adapter.ts';
import type { Deps } from './deps.ts';

/** Used when the configuration was built by hand without a downloads section. */
export const DEFAULT_DOWNLOADS: DownloadsConfig = {
  strategy: 's3',
  ttlSeconds: 3600,
  windowSeconds: 300,
  algorithm: 'SHA1',
  edge: { host: '127.0.0.1', port: 8788 },
};

export interface DownloadDeps extends Deps {
  /** Overrides the signer built from config.downloads (tests, `start` wiring). */
  downloadSigner?: DownloadSigner;
}

export interface DownloadOptions {
  disposition?: DispositionType | null;
  policy?: CustomPolicyOptions;
}

export interface DownloadAnswer {
  url: string;
  expiresAt: string;
}

const s3Clients = new WeakMap<object, S3Client>();

function s3ClientFor(deps: Deps): S3Client {
  const own = (deps.storage as { client?: S3Client }).client;
  if (own) return own;
  let c = s3Clients.get(deps.config);
  if (!c) {
    c = createS3Client({
      endpoint: deps.config.s3.endpoint,
      region: deps.config.s3.region,
      accessKeyId: deps.config.s3.accessKeyId,
      secretAccessKey: deps.config.s3.secretAccessKey,
      forcePathStyle: deps.config.s3.forcePathStyle,
    });
    s3Clients.set(deps.config, c);
  }
  return c;
}

export async function signerFor(deps: DownloadDeps): Promise<DownloadSigner> {
  if (deps.downloadSigner) return deps.downloadSigner;
  const settings = deps.config.downloads ?? DEFAULT_DOWNLOADS;
  return downloadSignerFor(settings, {
    dataDir: deps.config.dataDir,
    bucket: deps.storage.bucket,
    s3Client: settings.strategy === 's3' ? s3ClientFor(deps) : undefined,
  });
}

export async function getDownloadUrl(
  deps: DownloadDeps,
  workspaceId: string,
  fileId: string,
  opts: DownloadOptions = {},
): Promise<DownloadAnswer> {
  if (!isUuid(fileId)) throw errors.notFound('File');
  const row = await getFile(deps.db, workspaceId, fileId);
  if (!row || row.status !== 'available') throw errors.notFound('File');
  const signer = await signerFor(deps);
  const settings = deps.config.downloads ?? DEFAULT_DOWNLOADS;
  const signed = await signer.sign({
    key: row.objectKey,
    filename: row.filename,
    contentType: row.contentType,
    disposition: opts.disposition ?? null,
    ttlSeconds: settings.ttlSeconds,
    now: deps.now(),
    policy: opts.policy,
  });
  return { url: signed.url, expiresAt: signed.expiresAt.toISOString() };
}

/**
 * Signed cookies granting every object of the workspace (`workspaces/<id>/*`) for pages that show many files
 * (cloudfront and edge strategies). Not exposed as a route by the v1 contract; for embedding applications.
 */
export async function getWorkspaceDownloadCookies(
  deps: DownloadDeps,
  workspaceId: string,
  opts: { ttlSeconds?: number; sourceIp?: string } = {},
): Promise<SignedCookies> {
  const signer = await signerFor(deps);
  if (!(signer instanceof CloudFrontSigner)) {
    throw errors.invalidRequest(`Signed cookies need the cloudfront or edge download strategy (not ${signer.strategy})`);
  }
  const settings = deps.config.downloads ?? DEFAULT_DOWNLOADS;
  return signer.signCookies({
    prefix: workspacePrefix(workspaceId),
    ttlSeconds: opts.ttlSeconds ?? settings.ttlSeconds,
    now: deps.now(),
    sourceIp: opts.sourceIp,
  });
}
