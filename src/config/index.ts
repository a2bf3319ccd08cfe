// Environment → typed, validated Config. One error message names every bad variable.
import { z } from 'zod';

export interface WorkspaceDefaults {
  maxFileSize: number;
  allowedContentTypes: string[];
  quotaBytes: number;
  maxFiles: number;
  maxPending: number;
}

export interface Config {
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  dataDir: string;
  /** Postgres connection string; undefined only before `start` has filled in the embedded one. */
  databaseUrl?: string;
  databasePoolMax: number;
  s3: {
    /** undefined only before `start` has filled in the embedded object store. */
    endpoint?: string;
    bucket: string;
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    forcePathStyle: boolean;
    /** Batch deletions with DeleteObjects (else one DeleteObject per key: for stores where it is missing or broken). */
    multiObjectDelete: boolean;
  };
  auth: {
    jwtSecret?: string;
    jwksUrl?: string;
    workspaceClaim: string;
    issuer?: string;
    audience?: string;
  };
  uploads: {
    /** How long presigned upload URLs/forms stay valid. */
    urlTtlSeconds: number;
    /** How long a pending upload may stay pending before it expires (≥ urlTtlSeconds). */
    pendingTtlSeconds: number;
    /** Uploads above this size use multipart unless the request asks for a method (MULTIPART_THRESHOLD_BYTES). */
    multipartThresholdBytes: number;
    /** Preferred part size; grows when needed to stay within 10,000 parts (MULTIPART_PART_SIZE_BYTES). */
    multipartPartSizeBytes: number;
    /** How many part URLs the create answer carries, so a client can start sending at once (MULTIPART_PARTS_SIGNED_AT_CREATE). */
    multipartPartsSignedAtCreate: number;
  };
  workspaceDefaults: WorkspaceDefaults;
  shutdownTimeoutMs: number;
  /** Ports of the parts `stowage start` embeds (0 = any free port). */
  embedded: { s3Port: number; postgresPort: number };
  /** Storage event notifications (POST /v1/events/s3, SQS). Optional so hand-built configs stay valid. */
  events?: {
    /** Shared secret for POST /v1/events/s3 (`?secret=` or `X-Stowage-Events-Secret`). Unset: the route answers 404. */
    secret?: string;
    /** SQS queue to consume S3 notifications from (the worker runs the consumer when set). */
    sqsQueueUrl?: string;
    /** Custom SQS endpoint (tests, LocalStack-style gateways). */
    sqsEndpoint?: string;
  };
  /** Background workers (expiry sweeper, deletion outbox, orphan multipart sweeper, event inbox). */
  workers?: {
    intervalSeconds: number;
    batchSize: number;
    /** Multipart uploads older than this are aborted by the orphan sweeper even if a row knows them. */
    multipartTtlSeconds: number;
  };
  /** Downloads (GET /v1/files/:id/download, docs/downloads.md). Optional so hand-built configs stay valid. */
  downloads?: DownloadsConfig;
  /** Per-workspace request rate limits (fixed windows counted in Postgres). Optional: absent = no limits. */
  rateLimits?: RateLimitsConfig;
}

export interface RateLimitsConfig {
  enabled: boolean;
  windowSeconds: number;
  /** Requests per window per workspace for each scope; 0 = unlimited. */
  limits: { create: number; complete: number; sign: number };
}

export interface DownloadsConfig {
  strategy: 'edge' | 'cloudfront' | 's3';
  /** Minimum lifetime of a download URL; the expiry is rounded up to windowSeconds. */
  ttlSeconds: number;
  windowSeconds: number;
  /** CloudFront distribution URL, or the edge's public URL (default http://EDGE_HOST:EDGE_PORT). */
  cdnBaseUrl?: string;
  /** CloudFront key pair; for `edge` optional (the key pair in dataDir is used). */
  keyPairId?: string;
  privateKey?: string;
  privateKeyFile?: string;
  algorithm: 'SHA1' | 'SHA256';
  /** Where `stowage start` runs the local edge. */
  edge: { host: string; port: number };
}

export class ConfigError extends Error {
  readonly problems: { variable: string; message: string }[];
  constructor(problems: { variable: string; message: string }[]) {
    super(
      'Invalid configuration:\n' + problems.map((p) => `  - ${p.variable}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const s = v.trim();
      if (!/^\d+$/.test(s)) {
        ctx.addIssue({ code: 'custom', message: `must be a whole number, got "${v}"` });
        return z.NEVER;
      }
      const n = Number(s);
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${v}` });
        return z.NEVER;
      }
      return n;
    });

const bool = (def: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return def;
      const s = v.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off'].includes(s)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false, got "${v}"` });
      return z.NEVER;
    });

const url = (protocols: string[]) =>
  optionalString.superRefine((v, ctx) => {
    if (v === undefined) return;
    try {
      const u = new URL(v);
      if (!protocols.includes(u.protocol)) {
        ctx.addIssue({ code: 'custom', message: `must be a ${protocols.join(' or ')} URL, got "${v}"` });
      }
    } catch {
      ctx.addIssue({ code: 'custom', message: `must be a URL, got "${v}"` });
    }
  });

const CONTENT_TYPE_PATTERN = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/(\*|[a-z0-9][a-z0-9!#$&^_.+-]*)$/;

const contentTypeList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const raw = v === undefined || v.trim() === '' ? DEFAULT_ALLOWED_TYPES : v;
    const items = raw
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== '');
    const bad = items.filter((s) => s !== '*/*' && !CONTENT_TYPE_PATTERN.test(s));
    if (bad.length > 0) {
      ctx.addIssue({ code: 'custom', message: `invalid content type pattern(s): ${bad.join(', ')}` });
      return z.NEVER;
    }
    if (items.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must list at least one content type' });
      return z.NEVER;
    }
    return items;
  });

export const DEFAULT_ALLOWED_TYPES =
  'image/png,image/jpeg,image/gif,image/webp,image/avif,application/pdf,text/plain,text/csv,application/json,video/mp4,audio/mpeg,application/zip,application/octet-stream';

const GiB = 1024 * 1024 * 1024;

const schema = z.object({
  HOST: optionalString,
  PORT: int(3000, 0, 65535),
  LOG_LEVEL: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? 'info' : v.trim().toLowerCase()))
    .pipe(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])),
  STOWAGE_DATA_DIR: optionalString,
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  DATABASE_POOL_MAX: int(20, 1, 1000),
  S3_ENDPOINT: url(['http:', 'https:']),
  S3_BUCKET: optionalString.superRefine((v, ctx) => {
    if (v !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v)) {
      ctx.addIssue({ code: 'custom', message: `must be a valid S3 bucket name, got "${v}"` });
    }
  }),
  S3_REGION: optionalString,
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_FORCE_PATH_STYLE: bool(true),
  S3_MULTI_OBJECT_DELETE: bool(true),
  AUTH_JWT_SECRET: optionalString.superRefine((v, ctx) => {
    if (v !== undefined && v.length < 32) {
      ctx.addIssue({ code: 'custom', message: 'must be at least 32 characters long' });
    }
  }),
  AUTH_JWKS_URL: url(['http:', 'https:']),
  AUTH_WORKSPACE_CLAIM: optionalString,
  AUTH_ISSUER: optionalString,
  AUTH_AUDIENCE: optionalString,
  UPLOAD_URL_TTL_SECONDS: int(900, 10, 7 * 24 * 3600),
  UPLOAD_PENDING_TTL_SECONDS: int(3600, 10, 30 * 24 * 3600),
  MULTIPART_THRESHOLD_BYTES: int(100 * 1024 * 1024, 0, 5 * GiB),
  MULTIPART_PART_SIZE_BYTES: int(16 * 1024 * 1024, 5 * 1024 * 1024, 5 * GiB),
  MULTIPART_PARTS_SIGNED_AT_CREATE: int(100, 0, 1000),
  DEFAULT_MAX_FILE_SIZE: int(5 * GiB, 1),
  DEFAULT_ALLOWED_CONTENT_TYPES: contentTypeList,
  DEFAULT_QUOTA_BYTES: int(10 * GiB, 0),
  DEFAULT_MAX_FILES: int(100_000, 0),
  DEFAULT_MAX_PENDING: int(100, 0),
  SHUTDOWN_TIMEOUT_MS: int(10_000, 0, 600_000),
  EMBEDDED_S3_PORT: int(3900, 0, 65535),
  EMBEDDED_POSTGRES_PORT: int(0, 0, 65535),
  EVENTS_SECRET: optionalString.superRefine((v, ctx) => {
    if (v !== undefined && v.length < 16) ctx.addIssue({ code: 'custom', message: 'must be at least 16 characters long' });
  }),
  SQS_QUEUE_URL: url(['http:', 'https:']),
  SQS_ENDPOINT: url(['http:', 'https:']),
  WORKER_INTERVAL_SECONDS: int(30, 1, 86_400),
  WORKER_BATCH_SIZE: int(1000, 1, 1000),
  MULTIPART_TTL_SECONDS: int(7 * 24 * 3600, 60, 365 * 24 * 3600),
  DOWNLOAD_STRATEGY: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? 'edge' : v.trim().toLowerCase()))
    .pipe(z.enum(['edge', 'cloudfront', 's3'])),
  DOWNLOAD_URL_TTL_SECONDS: int(3600, 1, 7 * 24 * 3600),
  DOWNLOAD_URL_WINDOW_SECONDS: int(300, 1, 86_400),
  CDN_BASE_URL: url(['http:', 'https:']),
  CLOUDFRONT_KEY_PAIR_ID: optionalString,
  CLOUDFRONT_PRIVATE_KEY: optionalString,
  CLOUDFRONT_PRIVATE_KEY_FILE: optionalString,
  CLOUDFRONT_SIGNING_ALGORITHM: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? 'SHA1' : v.trim().toUpperCase()))
    .pipe(z.enum(['SHA1', 'SHA256'])),
  EDGE_HOST: optionalString,
  EDGE_PORT: int(8788, 0, 65535),
  RATE_LIMIT_ENABLED: bool(true),
  RATE_LIMIT_WINDOW_SECONDS: int(10, 1, 3600),
  RATE_LIMIT_CREATE: int(2000, 0),
  RATE_LIMIT_COMPLETE: int(2000, 0),
  RATE_LIMIT_SIGN: int(4000, 0),
});

export interface LoadConfigOptions {
  /**
   * When true (the `serve` command), DATABASE_URL, S3_ENDPOINT, S3 credentials and an auth key must be given.
   * When false (the `start` command), the embedded parts fill in what is missing.
   */
  requireExternal: boolean;
}

export function loadConfig(
  env: Record<string, string | undefined> = process.env,
  opts: LoadConfigOptions = { requireExternal: true },
): Config {
  const parsed = schema.safeParse(env);
  const problems: { variable: string; message: string }[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push({ variable: String(issue.path[0] ?? '(environment)'), message: issue.message });
    }
  }
  const e = parsed.success ? parsed.data : undefined;
  if (e) {
    if (e.AUTH_JWT_SECRET && e.AUTH_JWKS_URL) {
      problems.push({ variable: 'AUTH_JWKS_URL', message: 'set either AUTH_JWT_SECRET or AUTH_JWKS_URL, not both' });
    }
    if (e.UPLOAD_PENDING_TTL_SECONDS < e.UPLOAD_URL_TTL_SECONDS) {
      problems.push({
        variable: 'UPLOAD_PENDING_TTL_SECONDS',
        message: `must be at least UPLOAD_URL_TTL_SECONDS (${e.UPLOAD_URL_TTL_SECONDS})`,
      });
    }
    if ((e.S3_ACCESS_KEY_ID === undefined) !== (e.S3_SECRET_ACCESS_KEY === undefined)) {
      problems.push({
        variable: e.S3_ACCESS_KEY_ID === undefined ? 'S3_ACCESS_KEY_ID' : 'S3_SECRET_ACCESS_KEY',
        message: 'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together',
      });
    }
    if (e.CLOUDFRONT_PRIVATE_KEY && e.CLOUDFRONT_PRIVATE_KEY_FILE) {
      problems.push({ variable: 'CLOUDFRONT_PRIVATE_KEY_FILE', message: 'set either CLOUDFRONT_PRIVATE_KEY or CLOUDFRONT_PRIVATE_KEY_FILE, not both' });
    }
    if (e.DOWNLOAD_STRATEGY === 'cloudfront') {
      if (!e.CDN_BASE_URL) problems.push({ variable: 'CDN_BASE_URL', message: 'is required when DOWNLOAD_STRATEGY=cloudfront' });
      if (!e.CLOUDFRONT_KEY_PAIR_ID) {
        problems.push({ variable: 'CLOUDFRONT_KEY_PAIR_ID', message: 'is required when DOWNLOAD_STRATEGY=cloudfront' });
      }
      if (!e.CLOUDFRONT_PRIVATE_KEY && !e.CLOUDFRONT_PRIVATE_KEY_FILE) {
        problems.push({ variable: 'CLOUDFRONT_PRIVATE_KEY', message: 'CLOUDFRONT_PRIVATE_KEY or CLOUDFRONT_PRIVATE_KEY_FILE is required when DOWNLOAD_STRATEGY=cloudfront' });
      }
    }
    if (e.DOWNLOAD_STRATEGY === 's3' && e.DOWNLOAD_URL_TTL_SECONDS + e.DOWNLOAD_URL_WINDOW_SECONDS > 604_800) {
      problems.push({ variable: 'DOWNLOAD_URL_TTL_SECONDS', message: 'plus DOWNLOAD_URL_WINDOW_SECONDS must be at most 604800 (7 days) for presigned S3 URLs' });
    }
    if (opts.requireExternal) {
      if (!e.DATABASE_URL) problems.push({ variable: 'DATABASE_URL', message: 'is required' });
      if (!e.S3_ENDPOINT) problems.push({ variable: 'S3_ENDPOINT', message: 'is required' });
      if (!e.AUTH_JWT_SECRET && !e.AUTH_JWKS_URL) {
        problems.push({ variable: 'AUTH_JWT_SECRET', message: 'AUTH_JWT_SECRET or AUTH_JWKS_URL is required' });
      }
    }
  } else {
    // Report cross-field requirements even when other variables failed, so one run names every problem.
    if (opts.requireExternal) {
      if (!env.DATABASE_URL?.trim() && !problems.some((p) => p.variable === 'DATABASE_URL')) {
        problems.push({ variable: 'DATABASE_URL', message: 'is required' });
      }
      if (!env.S3_ENDPOINT?.trim() && !problems.some((p) => p.variable === 'S3_ENDPOINT')) {
        problems.push({ variable: 'S3_ENDPOINT', message: 'is required' });
      }
    }
  }
  if (problems.length > 0 || !e) throw new ConfigError(problems);

  return {
    host: e.HOST ?? '127.0.0.1',
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    dataDir: e.STOWAGE_DATA_DIR ?? '.stowage',
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    s3: {
      endpoint: e.S3_ENDPOINT,
      bucket: e.S3_BUCKET ?? 'stowage',
      region: e.S3_REGION ?? 'us-east-1',
      accessKeyId: e.S3_ACCESS_KEY_ID,
      secretAccessKey: e.S3_SECRET_ACCESS_KEY,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      multiObjectDelete: e.S3_MULTI_OBJECT_DELETE,
    },
    auth: {
      jwtSecret: e.AUTH_JWT_SECRET,
      jwksUrl: e.AUTH_JWKS_URL,
      workspaceClaim: e.AUTH_WORKSPACE_CLAIM ?? 'workspace_id',
      issuer: e.AUTH_ISSUER,
      audience: e.AUTH_AUDIENCE,
    },
    uploads: {
      urlTtlSeconds: e.UPLOAD_URL_TTL_SECONDS,
      pendingTtlSeconds: e.UPLOAD_PENDING_TTL_SECONDS,
      multipartThresholdBytes: e.MULTIPART_THRESHOLD_BYTES,
      multipartPartSizeBytes: e.MULTIPART_PART_SIZE_BYTES,
      multipartPartsSignedAtCreate: e.MULTIPART_PARTS_SIGNED_AT_CREATE,
    },
    workspaceDefaults: {
      maxFileSize: e.DEFAULT_MAX_FILE_SIZE,
      allowedContentTypes: e.DEFAULT_ALLOWED_CONTENT_TYPES,
      quotaBytes: e.DEFAULT_QUOTA_BYTES,
      maxFiles: e.DEFAULT_MAX_FILES,
      maxPending: e.DEFAULT_MAX_PENDING,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    embedded: { s3Port: e.EMBEDDED_S3_PORT, postgresPort: e.EMBEDDED_POSTGRES_PORT },
    events: { secret: e.EVENTS_SECRET, sqsQueueUrl: e.SQS_QUEUE_URL, sqsEndpoint: e.SQS_ENDPOINT },
    workers: {
      intervalSeconds: e.WORKER_INTERVAL_SECONDS,
      batchSize: e.WORKER_BATCH_SIZE,
      multipartTtlSeconds: Math.max(e.MULTIPART_TTL_SECONDS, e.UPLOAD_PENDING_TTL_SECONDS),
    },
    downloads: {
      strategy: e.DOWNLOAD_STRATEGY,
      ttlSeconds: e.DOWNLOAD_URL_TTL_SECONDS,
      windowSeconds: e.DOWNLOAD_URL_WINDOW_SECONDS,
      cdnBaseUrl:
        e.CDN_BASE_URL ??
        (e.DOWNLOAD_STRATEGY === 'edge' && e.EDGE_PORT !== 0
          ? `http://${e.EDGE_HOST ?? e.HOST ?? '127.0.0.1'}:${e.EDGE_PORT}`
          : undefined),
      keyPairId: e.CLOUDFRONT_KEY_PAIR_ID,
      privateKey: e.CLOUDFRONT_PRIVATE_KEY,
      privateKeyFile: e.CLOUDFRONT_PRIVATE_KEY_FILE,
      algorithm: e.CLOUDFRONT_SIGNING_ALGORITHM,
      edge: { host: e.EDGE_HOST ?? e.HOST ?? '127.0.0.1', port: e.EDGE_PORT },
    },
    rateLimits: {
      enabled: e.RATE_LIMIT_ENABLED,
      windowSeconds: e.RATE_LIMIT_WINDOW_SECONDS,
      limits: { create: e.RATE_LIMIT_CREATE, complete: e.RATE_LIMIT_COMPLETE, sign: e.RATE_LIMIT_SIGN },
    },
  };
}
