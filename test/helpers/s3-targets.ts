// S3 targets for tests: always the embedded object store (in-process, port 0, temp dir); also Ceph RGW when
// RGW_ENDPOINT + RGW_ACCESS_KEY_ID + RGW_SECRET_ACCESS_KEY are set. Generic: any suite can run the same cases on each.
//
//   const targets = s3Targets();            // [embedded, rgw?]
//   describe.each(targets)('$name', (t) => { beforeAll(() => t.start()); afterAll(() => t.stop()); … t.client() … });
//   if (!rgwEnv()) console.log(RGW_SKIP_MESSAGE);
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { startObjectStore, type ObjectStore, type ObjectStoreOptions } from '../../src/objectstore/index.ts';

export type S3TargetName = 'embedded' | 'rgw';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface S3Target {
  name: S3TargetName;
  region: string;
  credentials: S3Credentials;
  /** base URL (path-style); valid after start() */
  readonly endpoint: string;
  /** the in-process store (embedded only, after start()) — e.g. for subscribe() */
  readonly store: ObjectStore | undefined;
  /** the embedded store's data directory (embedded only) */
  readonly dir: string | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** an S3 client as production builds it: path-style, checksums only WHEN_REQUIRED */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  /** creates a fresh uniquely named bucket (removed by stop()) */
  createBucket(prefix?: string): Promise<string>;
  /** deletes every object and multipart upload in the bucket, then the bucket */
  deleteBucket(bucket: string): Promise<void>;
}

export const RGW_SKIP_MESSAGE = 'RGW cases skipped: RGW_ENDPOINT not set (set RGW_ENDPOINT, RGW_ACCESS_KEY_ID, RGW_SECRET_ACCESS_KEY)';

export function rgwEnv(): { endpoint: string; region: string; credentials: S3Credentials } | undefined {
  const e = process.env;
  if (!e.RGW_ENDPOINT || !e.RGW_ACCESS_KEY_ID || !e.RGW_SECRET_ACCESS_KEY) return undefined;
  return {
    endpoint: e.RGW_ENDPOINT.replace(/\/$/, ''),
    region: e.RGW_REGION ?? 'us-east-1',
    credentials: { accessKeyId: e.RGW_ACCESS_KEY_ID, secretAccessKey: e.RGW_SECRET_ACCESS_KEY },
  };
}

export function makeS3Client(endpoint: string, region: string, credentials: S3Credentials, overrides: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...overrides,
  });
}

abstract class BaseTarget implements S3Target {
  abstract name: S3TargetName;
  abstract region: string;
  abstract credentials: S3Credentials;
  abstract get endpoint(): string;
  get store(): ObjectStore | undefined {
    return undefined;
  }
  get dir(): string | undefined {
    return undefined;
  }
  protected buckets = new Set<string>();
  private clients: S3Client[] = [];
  private admin?: S3Client;
  abstract start(): Promise<void>;
  protected abstract shutdown(): Promise<void>;

  client(overrides: Partial<S3ClientConfig> = {}): S3Client {
    const c = makeS3Client(this.endpoint, this.region, this.credentials, overrides);
    this.clients.push(c);
    return c;
  }

  private adminClient(): S3Client {
    if (!this.admin) this.admin = this.client();
    return this.admin;
  }

  async createBucket(prefix = 'test'): Promise<string> {
    const name = `${prefix}-${randomUUID().slice(0, 12)}`.toLowerCase().slice(0, 63);
    await this.adminClient().send(new CreateBucketCommand({ Bucket: name }));
    this.buckets.add(name);
    return name;
  }

  async deleteBucket(bucket: string): Promise<void> {
    const c = this.adminClient();
    for (;;) {
      const page = await c.send(new ListObjectsV2Command({ Bucket: bucket }));
      const objs = (page.Contents ?? []).map((o) => ({ Key: o.Key! }));
      if (!objs.length) break;
      await c.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objs, Quiet: true } }));
    }
    const ups = await c.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    for (const u of ups.Uploads ?? []) {
      await c.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! })).catch(() => {});
    }
    await c.send(new DeleteBucketCommand({ Bucket: bucket }));
    this.buckets.delete(bucket);
  }

  async stop(): Promise<void> {
    for (const b of [...this.buckets]) await this.deleteBucket(b).catch(() => {});
    for (const c of this.clients) c.destroy();
    this.clients = [];
    this.admin = undefined;
    await this.shutdown();
  }
}

class EmbeddedTarget extends BaseTarget {
  name = 'embedded' as const;
  region: string;
  credentials: S3Credentials = { accessKeyId: 'AKIAEMBEDDED' + randomUUID().slice(0, 8).toUpperCase(), secretAccessKey: randomUUID() + randomUUID() };
  private handle?: ObjectStore;
  private tmp?: string;
  private ownDir = false;
  constructor(private readonly extra: Partial<ObjectStoreOptions> = {}) {
    super();
    this.region = extra.region ?? 'us-east-1';
  }
  get endpoint(): string {
    if (!this.handle) throw new Error('embedded S3 target not started');
    return this.handle.endpoint;
  }
  get store(): ObjectStore | undefined {
    return this.handle;
  }
  get dir(): string | undefined {
    return this.tmp;
  }
  async start(): Promise<void> {
    if (this.handle) return;
    if (!this.tmp) {
      this.tmp = this.extra.dir ?? (await mkdtemp(path.join(tmpdir(), 'stowage-s3-')));
      this.ownDir = !this.extra.dir;
    }
    this.handle = await startObjectStore({ ...this.extra, dir: this.tmp, credentials: [this.credentials], region: this.region });
  }
  /** stop the server but keep the data directory (restart tests) */
  async restart(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    await this.start();
  }
  protected async shutdown(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    if (this.tmp && this.ownDir) await rm(this.tmp, { recursive: true, force: true });
    this.tmp = undefined;
  }
}

class RgwTarget extends BaseTarget {
  name = 'rgw' as const;
  region: string;
  credentials: S3Credentials;
  constructor(private readonly env: { endpoint: string; region: string; credentials: S3Credentials }) {
    super();
    this.region = env.region;
    this.credentials = env.credentials;
  }
  get endpoint(): string {
    return this.env.endpoint;
  }
  async start(): Promise<void> {}
  protected async shutdown(): Promise<void> {}
}

export type EmbeddedS3Target = S3Target & { restart(): Promise<void> };

export function embeddedTarget(options: Partial<ObjectStoreOptions> = {}): EmbeddedS3Target {
  return new EmbeddedTarget(options);
}

/** [embedded, rgw?]. The RGW target is present only when RGW_ENDPOINT (+ keys) is set. */
export function s3Targets(options: { embedded?: Partial<ObjectStoreOptions> } = {}): S3Target[] {
  const out: S3Target[] = [new EmbeddedTarget(options.embedded)];
  const rgw = rgwEnv();
  if (rgw) out.push(new RgwTarget(rgw));
  return out;
}

/** The RGW target, or undefined when RGW_ENDPOINT is not set (use with describe.skipIf). */
export function rgwTarget(): S3Target | undefined {
  const rgw = rgwEnv();
  return rgw ? new RgwTarget(rgw) : undefined;
}
