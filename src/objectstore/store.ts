import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { s3err } from './errors.ts';
import type { ChecksumAlgorithm } from './checksums.ts';

export interface Segment {
  /** file name inside the bucket's data directory */
  file: string;
  size: number;
}

export interface StoredChecksum {
  alg: ChecksumAlgorithm;
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface ObjectHeaders {
  contentType?: string;
  contentDisposition?: string;
  cacheControl?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  expires?: string;
}

export interface ObjectMeta {
  key: string;
  size: number;
  /** hex MD5, or hex-N for multipart (unquoted) */
  etag: string;
  lastModified: number;
  headers: ObjectHeaders;
  userMeta: Record<string, string>;
  checksum?: StoredChecksum;
  segments: Segment[];
  partsCount?: number;
  version: string;
}

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

export interface NotificationTarget {
  id: string;
  kind: 'Topic' | 'Queue' | 'CloudFunction';
  /** the ARN / URL exactly as configured */
  arn: string;
  /** resolved webhook URL */
  url: string;
  events: string[];
  prefix?: string;
  suffix?: string;
}

export interface BucketConfig {
  name: string;
  created: number;
  cors?: CorsRule[];
  notifications?: NotificationTarget[];
}

export interface PartMeta {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: number;
  file: string;
  checksum?: { alg: ChecksumAlgorithm; value: string };
}

export interface UploadMeta {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: number;
  headers: ObjectHeaders;
  userMeta: Record<string, string>;
  checksumAlgorithm?: ChecksumAlgorithm;
}

export interface Upload {
  meta: UploadMeta;
  parts: Map<number, PartMeta>;
}

interface Bucket {
  config: BucketConfig;
  objects: Map<string, ObjectMeta>;
  keys: string[];
  /** prefix of the data files adopted into this incarnation of the bucket (a bucket deleted and re-created gets another) */
  gen: string;
  /** commits in progress; DeleteBucket waits for them */
  commits: number;
  /** set by DeleteBucket under the bucket lock: new commits are refused */
  deleting: boolean;
  idle?: () => void;
}

function newBucket(config: BucketConfig): Bucket {
  return { config, objects: new Map(), keys: [], gen: randomBytes(4).toString('hex'), commits: 0, deleting: false };
}

/**
 * Runs under the key's lock just before a commit (or delete) becomes visible, with the object it replaces: writes the
 * event notifications as pending and returns how to publish them once the commit is in place, or drop them.
 */
export type EventHook = (current: ObjectMeta | undefined, next: ObjectMeta | undefined) => Promise<{ promote(): Promise<void>; discard(): Promise<void> }>;

export type StoreLog = (level: 'info' | 'warn' | 'error', msg: string, extra?: Record<string, unknown>) => void;

/** Data directories locked by stores of this process (a LOCK naming our own pid but not listed here is stale). */
const lockedHere = new Set<string>();

/** This boot's id (Linux): a LOCK written before a reboot is stale even if its pid is alive again. */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Compares strings by their UTF-8 byte order (the order S3 lists keys in). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // surrogates (U+10000 and above) sort after U+E000..U+FFFF in UTF-8
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

function lowerBound(arr: string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(arr[mid], key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function validBucketName(name: string): boolean {
  return (
    /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) &&
    !/\.\./.test(name) &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.endsWith('-s3alias')
  );
}

function hashName(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** fsyncs a directory so that the renames and links done in it survive a crash (best effort where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // some filesystems refuse fsync on a directory; a vanished directory fails the caller's next step anyway
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF' && code !== 'ENOENT') throw e;
  } finally {
    await fh?.close();
  }
}

/** Writes `data` to a new file and fsyncs it before closing. */
async function writeFileDurable(file: string, data: string): Promise<void> {
  const fh = await fsp.open(file, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes JSON to a temp file, fsyncs it, renames it over `file`, then fsyncs `file`'s directory: once this resolves,
 * the new content survives a crash. Creates at most `file`'s own directory (never its parents: a bucket deleted
 * meanwhile must not be recreated by a late write).
 */
async function writeJsonAtomic(file: string, tmpDir: string, value: unknown): Promise<void> {
  const tmp = path.join(tmpDir, `${randomUUID()}.json`);
  await writeFileDurable(tmp, JSON.stringify(value));
  try {
    try {
      await fsp.rename(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await fsp.mkdir(path.dirname(file)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      await fsp.rename(tmp, file);
    }
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(path.dirname(file));
}

/** Removes a file; absent is fine. One unlink, where fs.rm({force}) costs an lstat and an unlink. */
async function unlinkIfExists(file: string): Promise<void> {
  try {
    await fsp.unlink(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/** Serialises async work per key (in-process). */
class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/**
 * Filesystem layout under `dir`:
 *   tmp/                                  in-flight bodies and JSON (renamed into place when complete)
 *   buckets/<bucket>/bucket.json          bucket config (CORS, notifications)
 *   buckets/<bucket>/meta/<h2>/<sha256(key)>.json   object metadata (key, etag, size, headers, data segments)
 *   buckets/<bucket>/data/<uuid>          immutable data files referenced by metadata
 *   buckets/<bucket>/uploads/<uploadId>/upload.json, part-<n>.json, p<n>-<uuid>   multipart uploads
 * A key's metadata file is replaced by an atomic rename, so readers see the old or the new object, never a mix.
 */
export class FsStore {
  readonly tmpDir: string;
  private readonly bucketsDir: string;
  private buckets = new Map<string, Bucket>();
  private uploads = new Map<string, Upload>();
  private locks = new KeyedMutex();
  /** data files being read: file path → reader count; unlinks wait for readers */
  private readers = new Map<string, number>();
  private doomed = new Set<string>();

  private readonly lockFile: string;
  private locked = false;

  constructor(
    readonly dir: string,
    private readonly log: StoreLog = () => {},
  ) {
    this.tmpDir = path.join(dir, 'tmp');
    this.bucketsDir = path.join(dir, 'buckets');
    this.lockFile = path.join(dir, 'LOCK');
  }

  /**
   * One process owns a data directory (the locks are in-process, and open() wipes tmp/ and collects unreferenced data):
   * `dir/LOCK` is created exclusively with our pid. A lock whose pid is no longer alive is taken over.
   */
  private async lock(): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    for (let attempt = 0; attempt < 5; attempt++) {
      // written whole under a temp name, then linked: the lock file is never seen empty
      const mine = path.join(this.dir, `LOCK.${process.pid}.${randomUUID()}`);
      await writeFileDurable(mine, `${process.pid} ${bootId()}\n`);
      try {
        await fsp.link(mine, this.lockFile);
        this.locked = true;
        lockedHere.add(path.resolve(this.dir));
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      } finally {
        await fsp.rm(mine, { force: true });
      }
      const raw = await fsp.readFile(this.lockFile, 'utf8').catch(() => '');
      const [pidText = '', lockBoot = ''] = raw.trim().split(/\s+/);
      const pid = Number.parseInt(pidText, 10);
      // Alive means: a live pid of this boot, and if it is our own pid, a store of this process holds the directory
      // (after a crash, a restarted container often gets the same pid again).
      const sameBoot = lockBoot === '' || lockBoot === bootId();
      const ours = pid === process.pid;
      if (Number.isInteger(pid) && pid > 0 && sameBoot && (ours ? lockedHere.has(path.resolve(this.dir)) : pidAlive(pid))) {
        throw new Error(
          `objectstore: the data directory ${this.dir} is in use by process ${pid}${pid === process.pid ? ' (this process: another store was started on it and not closed)' : ''}; ` +
            `only one process may serve a data directory (lock file ${this.lockFile})`,
        );
      }
      // stale: move it aside (only one contender wins the rename), check it is the one we judged, retry
      const aside = path.join(this.dir, `LOCK.stale.${randomUUID()}`);
      try {
        await fsp.rename(this.lockFile, aside);
      } catch {
        continue;
      }
      const moved = await fsp.readFile(aside, 'utf8').catch(() => '');
      if (moved !== raw) {
        // another process took the lock over in between: give it back
        await fsp.link(aside, this.lockFile).catch(() => {});
        await fsp.rm(aside, { force: true });
        continue;
      }
      await fsp.rm(aside, { force: true });
      this.log('warn', 'objectstore: took over a stale lock of a process that is gone', { dir: this.dir, pid: raw.trim() });
    }
    throw new Error(`objectstore: could not lock the data directory ${this.dir} (lock file ${this.lockFile})`);
  }

  /** Releases the data directory lock (after the server has stopped). */
  async close(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    lockedHere.delete(path.resolve(this.dir));
    const raw = await fsp.readFile(this.lockFile, 'utf8').catch(() => '');
    if (Number.parseInt(raw, 10) === process.pid) await fsp.rm(this.lockFile, { force: true });
  }

  async open(): Promise<void> {
    await this.lock();
    try {
      await this.load();
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** Moves an unreadable file into `dir/quarantine/` (kept for inspection, never deleted). */
  private async quarantine(file: string, err: unknown): Promise<void> {
    const dest = path.join(this.dir, 'quarantine', path.relative(this.dir, file));
    try {
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      await fsp.rename(file, dest);
      this.log('error', 'objectstore: unreadable metadata moved to quarantine', { file, quarantined: dest, err: String(err) });
    } catch (e) {
      this.log('error', 'objectstore: unreadable metadata (could not be moved to quarantine)', { file, err: String(err), moveErr: String(e) });
    }
  }

  private async load(): Promise<void> {
    await fsp.rm(this.tmpDir, { recursive: true, force: true });
    await fsp.mkdir(this.tmpDir, { recursive: true });
    await fsp.mkdir(this.bucketsDir, { recursive: true });
    for (const name of await fsp.readdir(this.bucketsDir)) {
      const bdir = path.join(this.bucketsDir, name);
      let config: BucketConfig;
      try {
        config = JSON.parse(await fsp.readFile(path.join(bdir, 'bucket.json'), 'utf8')) as BucketConfig;
      } catch {
        continue;
      }
      const bucket = newBucket(config);
      this.buckets.set(name, bucket);
      const referenced = new Set<string>();
      let unreadable = 0;
      const metaDir = path.join(bdir, 'meta');
      for (const sub of await readdirSafe(metaDir)) {
        for (const f of await readdirSafe(path.join(metaDir, sub))) {
          if (!f.endsWith('.json')) continue;
          const file = path.join(metaDir, sub, f);
          try {
            const meta = JSON.parse(await fsp.readFile(file, 'utf8')) as ObjectMeta;
            if (typeof meta.key !== 'string' || !Array.isArray(meta.segments)) throw new Error('not object metadata');
            bucket.objects.set(meta.key, meta);
            for (const s of meta.segments) referenced.add(s.file);
          } catch (e) {
            unreadable++;
            await this.quarantine(file, e);
          }
        }
      }
      bucket.keys = [...bucket.objects.keys()].sort(compareKeys);
      // garbage: data files that no metadata references (a crash between data rename and metadata rename). Not when
      // some metadata could not be read: its data may be among them.
      if (unreadable) {
        this.log('warn', 'objectstore: unreferenced data files kept (unreadable metadata in this bucket)', { bucket: name, unreadable });
      } else {
        for (const f of await readdirSafe(path.join(bdir, 'data'))) {
          if (!referenced.has(f)) await fsp.rm(path.join(bdir, 'data', f), { force: true });
        }
      }
      for (const id of await readdirSafe(path.join(bdir, 'uploads'))) {
        const udir = path.join(bdir, 'uploads', id);
        let raw: string;
        try {
          raw = await fsp.readFile(path.join(udir, 'upload.json'), 'utf8');
        } catch {
          // created but never recorded (a crash inside CreateMultipartUpload): nothing was acknowledged
          await fsp.rm(udir, { recursive: true, force: true });
          continue;
        }
        try {
          const meta = JSON.parse(raw) as UploadMeta;
          const upload: Upload = { meta, parts: new Map() };
          const files = await readdirSafe(udir);
          const used = new Set<string>();
          for (const f of files) {
            if (/^part-\d+\.json$/.test(f)) {
              const pm = JSON.parse(await fsp.readFile(path.join(udir, f), 'utf8')) as PartMeta;
              upload.parts.set(pm.partNumber, pm);
              used.add(pm.file);
            }
          }
          for (const f of files) {
            if (/^p\d+-/.test(f) && !used.has(f)) await fsp.rm(path.join(udir, f), { force: true });
          }
          this.uploads.set(id, upload);
        } catch (e) {
          await this.quarantine(udir, e);
        }
      }
    }
  }

  tmpFile(): string {
    return path.join(this.tmpDir, randomUUID());
  }

  // ---------------------------------------------------------------- buckets
  listBuckets(): BucketConfig[] {
    return [...this.buckets.values()].map((b) => b.config).sort((a, b) => compareKeys(a.name, b.name));
  }

  bucket(name: string): BucketConfig {
    return this.getBucket(name).config;
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  private getBucket(name: string): Bucket {
    const b = this.buckets.get(name);
    if (!b) throw s3err('NoSuchBucket', undefined, { BucketName: name });
    return b;
  }

  private bdir(name: string): string {
    return path.join(this.bucketsDir, name);
  }

  async createBucket(name: string, now: number): Promise<void> {
    if (!validBucketName(name)) throw s3err('InvalidBucketName', undefined, { BucketName: name });
    await this.locks.run(`bucket\0${name}`, async () => {
      if (this.buckets.has(name)) throw s3err('BucketAlreadyOwnedByYou', undefined, { BucketName: name });
      const config: BucketConfig = { name, created: now };
      const bdir = this.bdir(name);
      await fsp.mkdir(path.join(bdir, 'data'), { recursive: true });
      await fsp.mkdir(path.join(bdir, 'meta'), { recursive: true });
      await fsp.mkdir(path.join(bdir, 'uploads'), { recursive: true });
      await writeJsonAtomic(path.join(bdir, 'bucket.json'), this.tmpDir, config);
      await fsyncDir(this.bucketsDir);
      this.buckets.set(name, newBucket(config));
    });
  }

  async deleteBucket(name: string): Promise<void> {
    await this.locks.run(`bucket\0${name}`, async () => {
      const b = this.getBucket(name);
      // exclusive with commits: none may start from now on, and the ones in progress are waited for, so a PUT racing
      // this DeleteBucket either lands first (BucketNotEmpty) or fails with NoSuchBucket — never writes afterwards
      b.deleting = true;
      try {
        while (b.commits > 0) await new Promise<void>((r) => (b.idle = r));
        if (b.objects.size > 0) throw s3err('BucketNotEmpty', undefined, { BucketName: name });
      } catch (e) {
        b.deleting = false;
        throw e;
      }
      for (const [id, u] of this.uploads) {
        if (u.meta.bucket === name) this.uploads.delete(id);
      }
      this.buckets.delete(name);
      const trash = path.join(this.tmpDir, `trash-${randomUUID()}`);
      await fsp.rename(this.bdir(name), trash);
      await fsp.rm(trash, { recursive: true, force: true });
    });
  }

  async updateBucketConfig(name: string, fn: (c: BucketConfig) => void): Promise<void> {
    await this.locks.run(`bucket\0${name}`, async () => {
      const b = this.getBucket(name);
      const next: BucketConfig = structuredClone(b.config);
      fn(next);
      await writeJsonAtomic(path.join(this.bdir(name), 'bucket.json'), this.tmpDir, next);
      b.config = next;
    });
  }

  // ---------------------------------------------------------------- objects
  head(bucket: string, key: string): ObjectMeta | undefined {
    return this.getBucket(bucket).objects.get(key);
  }

  dataPath(bucket: string, file: string): string {
    return path.join(this.bdir(bucket), 'data', file);
  }

  /** Marks the object's data files as being read; call the returned function when done. */
  acquire(bucket: string, meta: ObjectMeta): () => void {
    const files = meta.segments.map((s) => this.dataPath(bucket, s.file));
    for (const f of files) this.readers.set(f, (this.readers.get(f) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const f of files) {
        const n = (this.readers.get(f) ?? 1) - 1;
        if (n <= 0) {
          this.readers.delete(f);
          if (this.doomed.delete(f)) void fsp.rm(f, { force: true });
        } else this.readers.set(f, n);
      }
    };
  }

  private async release(bucket: string, meta: ObjectMeta): Promise<void> {
    for (const s of meta.segments) {
      const f = this.dataPath(bucket, s.file);
      if (this.readers.has(f)) this.doomed.add(f);
      else await unlinkIfExists(f);
    }
  }

  private metaPath(bucket: string, key: string): string {
    const h = hashName(key);
    return path.join(this.bdir(bucket), 'meta', h.slice(0, 2), `${h}.json`);
  }

  /** Moves a finished temp file into the bucket's data directory; returns its data file name. */
  async adoptTemp(bucket: string, tmp: string): Promise<string> {
    const b = this.getBucket(bucket);
    const file = `${b.gen}.${randomUUID()}`;
    try {
      await fsp.rename(tmp, this.dataPath(bucket, file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw s3err('NoSuchBucket', undefined, { BucketName: bucket });
      throw e;
    }
    await fsyncDir(path.dirname(this.dataPath(bucket, file)));
    return file;
  }

  /** Hard-links (or copies) an existing data file under a new name (CopyObject, multipart completion). */
  async linkData(bucket: string, src: string, sync = true): Promise<string> {
    const file = `${this.getBucket(bucket).gen}.${randomUUID()}`;
    const dst = this.dataPath(bucket, file);
    try {
      await fsp.link(src, dst);
    } catch {
      await fsp.copyFile(src, dst);
      const fh = await fsp.open(dst, 'r+');
      await fh.sync().finally(() => fh.close());
    }
    if (sync) await fsyncDir(path.dirname(dst));
    return file;
  }

  /**
   * Commits object metadata atomically under the key's lock. `check` runs under the lock with the current object
   * (conditional writes). Returns the previous object. On failure the new data files are removed.
   */
  async commit(bucket: string, meta: ObjectMeta, check?: (current: ObjectMeta | undefined) => void, events?: EventHook): Promise<ObjectMeta | undefined> {
    try {
      return await this.locks.run(`obj\0${bucket}\0${meta.key}`, async () => {
        const b = this.getBucket(bucket);
        // DeleteBucket in progress, or the data was adopted into an earlier incarnation of a re-created bucket
        const stale = meta.segments.some((s) => {
          const dot = s.file.indexOf('.');
          return dot > 0 && s.file.slice(0, dot) !== b.gen;
        });
        if (b.deleting || stale) throw s3err('NoSuchBucket', undefined, { BucketName: bucket });
        b.commits++;
        try {
          const current = b.objects.get(meta.key);
          check?.(current);
          const prepared = await events?.(current, meta);
          try {
            await writeJsonAtomic(this.metaPath(bucket, meta.key), this.tmpDir, meta);
          } catch (e) {
            await prepared?.discard();
            throw e;
          }
          b.objects.set(meta.key, meta);
          if (!current) b.keys.splice(lowerBound(b.keys, meta.key), 0, meta.key);
          await this.publish(prepared);
          if (current) await this.release(bucket, current);
          return current;
        } finally {
          if (--b.commits === 0 && b.idle) {
            const idle = b.idle;
            b.idle = undefined;
            idle();
          }
        }
      });
    } catch (e) {
      for (const s of meta.segments) await fsp.rm(this.dataPath(bucket, s.file), { force: true }).catch(() => {});
      throw e;
    }
  }

  /** Publishes events prepared for a commit now in place; a failure leaves them pending (promoted at the next start). */
  private async publish(prepared: Awaited<ReturnType<EventHook>> | undefined): Promise<void> {
    try {
      await prepared?.promote();
    } catch (e) {
      this.log('error', 'objectstore: could not publish event notifications; they stay pending until the next start', { err: String(e) });
    }
  }

  /** Whether the write a pending event waited for is in place (startup recovery of event notifications). */
  committed(m: { bucket: string; key: string; kind: 'created' | 'removed'; version: string }): boolean {
    const cur = this.buckets.get(m.bucket)?.objects.get(m.key);
    return m.kind === 'created' ? cur?.version === m.version : cur?.version !== m.version;
  }

  /** Deletes a key (no error if absent). Returns the deleted object, if there was one. */
  async deleteObject(bucket: string, key: string, events?: EventHook): Promise<ObjectMeta | undefined> {
    return this.locks.run(`obj\0${bucket}\0${key}`, async () => {
      const b = this.getBucket(bucket);
      const current = b.objects.get(key);
      if (!current) return undefined;
      const prepared = await events?.(current, undefined);
      try {
        await unlinkIfExists(this.metaPath(bucket, key));
        await fsyncDir(path.dirname(this.metaPath(bucket, key)));
      } catch (e) {
        await prepared?.discard();
        throw e;
      }
      b.objects.delete(key);
      await this.publish(prepared);
      const i = lowerBound(b.keys, key);
      if (b.keys[i] === key) b.keys.splice(i, 1);
      await this.release(bucket, current);
      return current;
    });
  }

  /** Keys in S3 order, starting strictly after `after` (if given) and with `prefix`. */
  *iterateKeys(bucket: string, prefix: string, after: string | undefined): Generator<ObjectMeta> {
    const b = this.getBucket(bucket);
    let start = prefix ? lowerBound(b.keys, prefix) : 0;
    if (after !== undefined && compareKeys(after, prefix) >= 0) {
      start = lowerBound(b.keys, after);
      if (b.keys[start] === after) start++;
    }
    const keys = b.keys.slice(start); // snapshot: concurrent writes never break a listing
    for (const k of keys) {
      if (prefix && !k.startsWith(prefix)) {
        if (compareKeys(k, prefix) > 0) return;
        continue;
      }
      const m = b.objects.get(k);
      if (m) yield m;
    }
  }

  // ---------------------------------------------------------------- multipart
  private udir(bucket: string, uploadId: string): string {
    return path.join(this.bdir(bucket), 'uploads', uploadId);
  }

  async createUpload(meta: Omit<UploadMeta, 'uploadId'>): Promise<UploadMeta> {
    this.getBucket(meta.bucket);
    const uploadId = randomBytes(24).toString('base64url');
    const full: UploadMeta = { ...meta, uploadId };
    const dir = this.udir(meta.bucket, uploadId);
    try {
      await fsp.mkdir(dir); // not recursive: a bucket deleted meanwhile is not re-created
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw s3err('NoSuchBucket', undefined, { BucketName: meta.bucket });
      throw e;
    }
    await writeJsonAtomic(path.join(dir, 'upload.json'), this.tmpDir, full);
    this.uploads.set(uploadId, { meta: full, parts: new Map() });
    return full;
  }

  getUpload(bucket: string, key: string, uploadId: string): Upload {
    this.getBucket(bucket);
    const u = this.uploads.get(uploadId);
    if (!u || u.meta.bucket !== bucket || u.meta.key !== key) throw s3err('NoSuchUpload', undefined, { UploadId: uploadId });
    return u;
  }

  listUploads(bucket: string): Upload[] {
    this.getBucket(bucket);
    return [...this.uploads.values()]
      .filter((u) => u.meta.bucket === bucket)
      .sort((a, b) => compareKeys(a.meta.key, b.meta.key) || a.meta.initiated - b.meta.initiated || compareKeys(a.meta.uploadId, b.meta.uploadId));
  }

  async commitPart(bucket: string, key: string, uploadId: string, tmp: string, part: Omit<PartMeta, 'file'>): Promise<void> {
    await this.locks.run(`upload\0${uploadId}`, async () => {
      const u = this.getUpload(bucket, key, uploadId);
      const dir = this.udir(bucket, uploadId);
      const file = `p${part.partNumber}-${randomUUID()}`;
      try {
        await fsp.rename(tmp, path.join(dir, file));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw s3err('NoSuchUpload', undefined, { UploadId: uploadId });
        throw e;
      }
      const pm: PartMeta = { ...part, file };
      await writeJsonAtomic(path.join(dir, `part-${part.partNumber}.json`), this.tmpDir, pm);
      const old = u.parts.get(part.partNumber);
      u.parts.set(part.partNumber, pm);
      if (old) await fsp.rm(path.join(dir, old.file), { force: true });
    });
  }

  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.locks.run(`upload\0${uploadId}`, async () => {
      this.getUpload(bucket, key, uploadId);
      this.uploads.delete(uploadId);
      await fsp.rm(this.udir(bucket, uploadId), { recursive: true, force: true });
    });
  }

  /**
   * Completes an upload: `build` validates the chosen parts and returns the object metadata (without segments); the
   * chosen part files become the object's data segments by hard link — the data is never copied.
   */
  async completeUpload(
    bucket: string,
    key: string,
    uploadId: string,
    build: (u: Upload) => { meta: Omit<ObjectMeta, 'segments'>; parts: PartMeta[] },
    check: (current: ObjectMeta | undefined) => void,
    events?: EventHook,
  ): Promise<ObjectMeta> {
    return this.locks.run(`upload\0${uploadId}`, async () => {
      const u = this.getUpload(bucket, key, uploadId);
      const { meta, parts } = build(u);
      const dir = this.udir(bucket, uploadId);
      const segments: Segment[] = [];
      try {
        for (const p of parts) segments.push({ file: await this.linkData(bucket, path.join(dir, p.file), false), size: p.size });
        await fsyncDir(path.dirname(this.dataPath(bucket, 'x')));
      } catch (e) {
        for (const s of segments) await fsp.rm(this.dataPath(bucket, s.file), { force: true });
        throw e;
      }
      const full: ObjectMeta = { ...meta, segments };
      await this.commit(bucket, full, check, events);
      this.uploads.delete(uploadId);
      await fsp.rm(dir, { recursive: true, force: true });
      return full;
    });
  }
}

async function readdirSafe(dir: string): Promise<string[]> {
  try {
    return await fsp.readdir(dir);
  } catch {
    return [];
  }
}
