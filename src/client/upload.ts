// One upload: create (or find again) on the server, send the bytes to storage, complete. Resumable from server state.
import type { ApiTransport } from './api.ts';
import { StowageError, abortError } from './errors.ts';
import { backoffDelay, isNetworkError, isRetryableStorageStatus, retryAfterMs, sleep } from './retry.ts';
import { defaultFingerprint, openSource, sha256Base64, type UploadInput, type UploadSource } from './source.ts';
import type {
  CreateUploadRequest,
  CreateUploadResponse,
  FileView,
  ListPartsResponse,
  SignPartsResponse,
  SignedPart,
  UploadInstruction,
  UploadProgress,
} from './types.ts';

export interface UploadOptions {
  /** Defaults to the File's name or the path's base name. */
  filename?: string;
  /** Defaults to the Blob's type or a guess from the extension. */
  contentType?: string;
  metadata?: Record<string, unknown>;
  /** Ask for a method; by default the server chooses (multipart above its threshold). */
  method?: 'put' | 'post' | 'multipart';
  /** Parts sent at the same time. Default 4. */
  concurrency?: number;
  /**
   * SHA-256 checksums verified by storage: of each part (x-amz-checksum-sha256) for multipart uploads, and of the whole
   * file for single uploads (computed before creation, for files up to `wholeChecksumLimit`, default 100 MiB).
   */
  checksum?: boolean;
  wholeChecksumLimit?: number;
  /**
   * Identifies the file for resuming; defaults to a hash of name, size and last-modified — for a File or a path only: a
   * plain Blob has neither, so without `fingerprint` it is never resumed.
   */
  fingerprint?: string;
  /** Look for an unfinished upload of the same fingerprint and continue it. Default true. */
  resume?: boolean;
  /**
   * Stops the upload when aborted. The server keeps the unfinished multipart upload (as if the process had died), so a
   * later upload() of the same file resumes it; call handle.abort() to discard it instead.
   */
  signal?: AbortSignal;
  onProgress?: (progress: UploadProgress) => void;
  /** Called when parts found on the server are skipped (resume). */
  onResume?: (info: { fileId: string; partsPresent: number; partCount: number }) => void;
  /** Parts signed per request when no checksums are sent. Default 2 × concurrency. */
  signBatchSize?: number;
}

export interface UploadStats {
  /** Storage requests that carried bytes (parts or the single PUT/POST), retries included. */
  requests: number;
  /** Part numbers sent by this handle (each once, even when retried). */
  partsSent: number[];
  /** Parts found in storage and skipped. */
  partsSkipped: number;
  /** API calls to sign parts. */
  signRequests: number;
  retries: number;
  resigned: number;
}

type Listener = (progress: UploadProgress) => void;

/** Where an upload stands when its bytes start moving: the instruction, and the parts storage already holds. */
interface UploadPlan {
  fileId: string;
  instruction: UploadInstruction;
  listed: ListPartsResponse;
}

interface SignedUrl extends SignedPart {
  expiresAtMs: number;
  /** Re-sign before using a cached URL this close to its expiry. */
  marginMs: number;
}

/** A cached URL is still worth using (a fresh one is always used: its margin is a quarter of its lifetime). */
function usable(url: SignedUrl | undefined, now = Date.now()): url is SignedUrl {
  return !!url && url.expiresAtMs - url.marginMs > now;
}

export class UploadHandle {
  /** Resolves with the available file, rejects with StowageError (or an AbortError). */
  readonly done: Promise<FileView>;
  readonly stats: UploadStats = { requests: 0, partsSent: [], partsSkipped: 0, signRequests: 0, retries: 0, resigned: 0 };

  private readonly api: ApiTransport;
  private readonly input: UploadInput;
  private readonly opts: UploadOptions;
  private readonly listeners = new Set<Listener>();
  /** This pause generation's controller: pause() aborts it and starts the next one; stop() aborts it for good. */
  private controller = new AbortController();
  /** Aborted only by stop() (abort(), opts.signal): what a create request in flight races against. */
  private readonly stopped = new AbortController();
  private paused = false;
  private aborted = false;
  private stopReason: unknown;
  private wake: (() => void) | undefined;
  private fileIdValue: string | undefined;
  /** The file id of a create request still in flight (undefined if it fails): abort() discards it when it answers. */
  private creating: Promise<string | undefined> | undefined;
  private removeSignalListener: (() => void) | undefined;
  private total = 0;
  private sent = 0;
  private partsDone = 0;
  private partCount = 1;
  private samples: Array<{ t: number; bytes: number }> = [];

  constructor(api: ApiTransport, input: UploadInput, opts: UploadOptions = {}) {
    this.api = api;
    this.input = input;
    this.opts = opts;
    if (opts.onProgress) this.listeners.add(opts.onProgress);
    const signal = opts.signal;
    if (signal) {
      if (signal.aborted) this.stop(signal.reason);
      else {
        const onAbort = () => this.stop(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        this.removeSignalListener = () => signal.removeEventListener('abort', onAbort);
      }
    }
    // Once settled, the handle no longer listens to the caller's signal (a long-lived signal must not keep it alive).
    this.done = this.run().finally(() => this.removeSignalListener?.());
    // The caller may only listen to events; an unobserved rejection must not crash Node.
    this.done.catch(() => undefined);
  }

  /** The server's file id, once the upload was created or found again. */
  get fileId(): string | undefined {
    return this.fileIdValue;
  }

  on(event: 'progress', listener: Listener): () => void {
    if (event !== 'progress') throw new TypeError(`unknown event ${event}`);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Stops sending (requests in flight are cancelled and their parts sent again on resume). A create request in flight
   * is not cancelled (it is not idempotent): the upload pauses once it answered.
   */
  pause(): void {
    if (this.paused || this.aborted) return;
    this.paused = true;
    // Each pause ends its own generation: a step cancelled by it is run again, whether or not resume() came since.
    const ended = this.controller;
    this.controller = new AbortController();
    ended.abort(abortError('paused'));
  }

  resume(): void {
    if (!this.paused || this.aborted) return;
    this.paused = false;
    this.wake?.();
  }

  /** Cancels the upload and discards it on the server (DELETE /v1/uploads/:id: storage freed, quota released). */
  async abort(): Promise<void> {
    this.stop(abortError());
    const finished = await this.done.then(
      () => true,
      () => false,
    );
    if (finished) return; // completed before the abort took effect: nothing to discard
    // A create request still in flight may yet create the upload: discard it when its answer arrives.
    const fileId = this.fileIdValue ?? (await this.creating);
    if (fileId) await this.api.request('DELETE', `/v1/uploads/${encodeURIComponent(fileId)}`);
  }

  private stop(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.stopReason = reason;
    this.controller.abort(reason);
    this.stopped.abort(reason);
    this.wake?.();
  }

  private stopError(): Error {
    return abortError(this.stopReason);
  }

  /** Waits while paused; throws when aborted. */
  private async checkpoint(): Promise<void> {
    while (this.paused && !this.aborted) await new Promise<void>((resolve) => (this.wake = resolve));
    if (this.aborted) throw this.stopError();
  }

  /**
   * Runs `step` with the signal of the current pause generation until it finishes. A step that failed after its
   * generation was ended by a pause is run again (after waiting, if still paused): its failure was the pause's doing.
   */
  private async pausable<T>(step: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (;;) {
      await this.checkpoint();
      const generation = this.controller;
      try {
        return await step(generation.signal);
      } catch (err) {
        if (this.aborted) throw this.stopError();
        if (generation.signal.aborted) continue; // only pause() and stop() end a generation
        throw err;
      }
    }
  }

  private async run(): Promise<FileView> {
    await Promise.resolve(); // let the constructor finish
    const source = await openSource(this.input, this.opts.filename, this.opts.contentType);
    try {
      this.total = source.size;
      const fingerprint = this.opts.fingerprint ?? (await defaultFingerprint(source));
      let plan: UploadPlan | undefined;
      /** Pending uploads of this fingerprint that existed before our create: never taken for ours. */
      let existing: Set<string> | undefined;
      if (fingerprint && this.opts.resume !== false && this.opts.method !== 'put' && this.opts.method !== 'post') {
        existing = new Set();
        plan = await this.pausable((signal) => this.findUnfinished(source, fingerprint, existing!, signal));
      }
      if (!plan) {
        // An ambiguous create (network error, 5xx) must be found again, never confused with another upload:
        // - without a fingerprint (a plain Blob), or for a single PUT/POST with the default one (a single upload is
        //   never resumed, so its fingerprint serves nothing else), a one-off fingerprint;
        // - a fingerprint that was not looked up yet (resume: false, or the caller's own for a PUT/POST): the pending
        //   uploads it names now, so that only one created after them can be taken for ours.
        const single = this.opts.method === 'put' || this.opts.method === 'post';
        let key = fingerprint;
        let before = existing;
        if (!key || (single && !this.opts.fingerprint)) {
          key = `once-${randomHex(16)}`;
          before = new Set();
        } else if (!before) {
          const k = key;
          before = new Set((await this.pausable((signal) => this.pendingOf(source, k, signal))).map((f) => f.id));
        }
        plan = await this.create(source, key, before);
      }
      this.fileIdValue = plan.fileId;
      const instruction = plan.instruction;
      // Multipart: the ETag of every part, when storage let us read them all (CORS exposes ETag), spares the server
      // listing the parts at completion.
      let parts: { partNumber: number; etag: string; checksumSha256?: string }[] | undefined;
      if (instruction.method === 'MULTIPART') parts = await this.sendMultipart(source, plan, instruction);
      else await this.pausable((signal) => this.sendSingle(source, instruction, signal));
      const { file } = await this.pausable((signal) =>
        this.api.request<{ file: FileView }>('POST', `/v1/uploads/${encodeURIComponent(plan!.fileId)}/complete`, {
          ...(parts ? { body: { parts } } : {}),
          signal,
        }),
      );
      if (file.status !== 'available') {
        throw new StowageError(422, 'verification_failed', file.rejectReason ?? `upload ended as ${file.status}`, { file });
      }
      return file;
    } finally {
      await source.close();
    }
  }

  /** Pending uploads of `fingerprint` that are this very file (fingerprint, size, name, type), newest first. */
  private async pendingOf(source: UploadSource, fingerprint: string, signal: AbortSignal, seen?: Set<string>): Promise<FileView[]> {
    const { items } = await this.api.request<{ items: FileView[] }>('GET', '/v1/uploads', {
      query: { status: 'pending', fingerprint },
      signal,
    });
    for (const f of items) seen?.add(f.id);
    return items
      .filter(
        (f) =>
          f.status === 'pending' &&
          f.size === source.size &&
          sameFilename(f.filename, source.name) &&
          sameContentType(f.contentType, source.type),
      )
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  }

  private async findUnfinished(
    source: UploadSource,
    fingerprint: string,
    seen: Set<string>,
    signal: AbortSignal,
  ): Promise<UploadPlan | undefined> {
    const now = Date.now();
    const candidate = (await this.pendingOf(source, fingerprint, signal, seen)).find(
      (f) => (f.uploadMethod ?? '').toLowerCase() === 'multipart' && (!f.expiresAt || Date.parse(f.expiresAt) > now + 60_000),
    );
    if (!candidate) return undefined;
    return this.resumePlan(candidate, signal);
  }

  /** The plan to continue a pending multipart upload; undefined when it is gone or its plan is unknown. */
  private async resumePlan(candidate: FileView, signal: AbortSignal): Promise<UploadPlan | undefined> {
    let listed: ListPartsResponse;
    try {
      listed = await this.listParts(candidate.id, signal);
    } catch (err) {
      // Gone meanwhile (expired, aborted, completed elsewhere): start afresh.
      if (err instanceof StowageError && (err.status === 404 || err.status === 409)) return undefined;
      throw err;
    }
    if (!listed.partSize || !listed.partCount) return undefined; // a server that does not say the plan: start afresh
    return {
      fileId: candidate.id,
      listed,
      instruction: {
        method: 'MULTIPART',
        uploadId: candidate.id,
        partSize: listed.partSize,
        partCount: listed.partCount,
        expiresAt: candidate.expiresAt ?? '',
      },
    };
  }

  private listParts(fileId: string, signal: AbortSignal): Promise<ListPartsResponse> {
    return this.api.request<ListPartsResponse>('GET', `/v1/uploads/${encodeURIComponent(fileId)}/parts`, { signal });
  }

  /**
   * POST /v1/uploads, which is not idempotent: it is never repeated blindly. After an ambiguous failure (network error,
   * 5xx: the server may have created it) the upload is first looked up by fingerprint — `existing` holds the pending
   * uploads of that fingerprint seen before, which are not ours; without that knowledge the error is final.
   */
  private async create(source: UploadSource, fingerprint: string, existing: Set<string> | undefined): Promise<UploadPlan> {
    let checksumSha256: string | undefined;
    const limit = this.opts.wholeChecksumLimit ?? 100 * 1024 * 1024;
    if (this.opts.checksum && this.opts.method !== 'multipart' && source.size <= limit) checksumSha256 = await source.sha256();
    const body: CreateUploadRequest = {
      filename: source.name,
      contentType: source.type,
      size: source.size,
      ...(checksumSha256 ? { checksumSha256 } : {}),
      ...(this.opts.metadata ? { metadata: this.opts.metadata } : {}),
      ...(this.opts.method ? { method: this.opts.method } : {}),
      ...(this.opts.checksum ? { partChecksums: true } : {}),
      fingerprint,
    };
    const retry = this.api.retry;
    for (let attempt = 0; ; attempt++) {
      await this.checkpoint();
      try {
        return await this.createOnce(body);
      } catch (err) {
        if (this.aborted) throw this.stopError();
        const ambiguous = (err instanceof StowageError && err.status >= 500) || isNetworkError(err);
        if (!ambiguous || !existing || attempt >= retry.retries) throw err;
      }
      this.stats.retries++;
      await this.pausable((signal) => sleep(backoffDelay(attempt, retry), signal));
      const found = await this.pausable((signal) => this.recoverCreated(source, fingerprint, existing, signal));
      if (found) return found;
    }
  }

  /**
   * One create request. Neither pause() nor stop() cancels it (a cancelled create may still have created the upload):
   * stop() only stops waiting for it, and abort() discards the upload when the answer arrives.
   */
  private createOnce(body: CreateUploadRequest): Promise<UploadPlan> {
    const request = this.api.request<CreateUploadResponse>('POST', '/v1/uploads', { body, retry: 'safe' });
    this.creating = request.then(
      (res) => res.file.id,
      () => undefined,
    );
    const stopped = this.stopped.signal;
    return new Promise<UploadPlan>((resolve, reject) => {
      const onStop = () => reject(this.stopError());
      if (stopped.aborted) return onStop();
      stopped.addEventListener('abort', onStop, { once: true });
      request
        .then(
          // Just created: storage holds no parts yet.
          (res) => resolve({ fileId: res.file.id, instruction: res.upload, listed: { parts: [] } }),
          reject,
        )
        .finally(() => stopped.removeEventListener('abort', onStop));
    });
  }

  /**
   * After an ambiguous create: the upload it may have created. A multipart one is continued; a single one cannot be
   * (its URL is lost), so it is discarded — its reservation released — before creating again.
   */
  private async recoverCreated(
    source: UploadSource,
    fingerprint: string,
    existing: Set<string>,
    signal: AbortSignal,
  ): Promise<UploadPlan | undefined> {
    const ours = (await this.pendingOf(source, fingerprint, signal)).filter((f) => !existing.has(f.id));
    let plan: UploadPlan | undefined;
    for (const f of ours) {
      if (!plan && (f.uploadMethod ?? '').toLowerCase() === 'multipart') {
        plan = await this.resumePlan(f, signal);
        if (plan) continue;
      }
      await this.api.request('DELETE', `/v1/uploads/${encodeURIComponent(f.id)}`, { signal });
      existing.add(f.id);
    }
    return plan;
  }

  // ---- single PUT / POST -------------------------------------------------------------------------------------------

  private async sendSingle(
    source: UploadSource,
    instruction: Exclude<UploadInstruction, { method: 'MULTIPART' }>,
    signal: AbortSignal,
  ): Promise<void> {
    this.partCount = 1;
    this.samples = [{ t: Date.now(), bytes: 0 }];
    for (let attempt = 0; ; attempt++) {
      let init: RequestInit;
      if (instruction.method === 'PUT') {
        init = { method: 'PUT', headers: storageHeaders(instruction.headers), body: (await source.slice(0, source.size)) as BodyInit };
      } else {
        const form = new FormData();
        for (const [k, v] of Object.entries(instruction.fields)) form.append(k, v);
        form.append('file', await source.blob(), source.name);
        init = { method: 'POST', body: form };
      }
      const outcome = await this.storageRequest(instruction.url, init, attempt, signal);
      if (typeof outcome === 'object') break;
      if (outcome === 'expired') {
        throw new StowageError(403, 'url_expired', 'the upload URL expired; start the upload again');
      }
    }
    this.progressed(source.size, 1);
  }

  /**
   * One request to storage: its ETag (null when unreadable, e.g. not exposed by CORS) when it succeeded, 'retry' after
   * a backoff sleep, 'expired' for an expired signature; throws otherwise.
   */
  private async storageRequest(
    url: string,
    init: RequestInit,
    attempt: number,
    signal: AbortSignal,
    expiresAtMs = Infinity,
  ): Promise<{ etag: string | null } | 'retry' | 'expired'> {
    const retry = this.api.retry;
    this.stats.requests++;
    let res: Response;
    try {
      res = await this.api.fetch(url, { ...init, signal });
    } catch (err) {
      if (isNetworkError(err, signal) && attempt < retry.retries) {
        this.stats.retries++;
        await sleep(backoffDelay(attempt, retry), signal);
        return 'retry';
      }
      throw err;
    }
    if (res.ok) {
      await res.body?.cancel().catch(() => undefined);
      return { etag: res.headers.get('etag') };
    }
    const text = await res.text().catch(() => '');
    // AWS says "Request has expired"; RGW 16 answers a bare AccessDenied: then the URL's own expiry decides.
    if (res.status === 403 && (/expired/i.test(text) || Date.now() >= expiresAtMs - 1000)) return 'expired';
    // A checksum that did not match what arrived (BadDigest) is a corrupted transfer: send the part again.
    const corrupted = res.status === 400 && /<Code>(BadDigest|XAmzContentSHA256Mismatch)<\/Code>/.test(text);
    if ((isRetryableStorageStatus(res.status) || corrupted) && attempt < retry.retries) {
      this.stats.retries++;
      await sleep(retryAfterMs(res, retry) ?? backoffDelay(attempt, retry), signal);
      return 'retry';
    }
    const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1];
    throw new StowageError(res.status, 'storage_error', `storage answered ${res.status}${code ? ` ${code}` : ''}`, {
      body: text.slice(0, 1000),
    });
  }

  // ---- multipart ---------------------------------------------------------------------------------------------------

  /** Sends the parts storage does not hold yet; returns every part's ETag, or undefined when some were unreadable. */
  private async sendMultipart(
    source: UploadSource,
    plan: UploadPlan,
    instruction: Extract<UploadInstruction, { method: 'MULTIPART' }>,
  ): Promise<{ partNumber: number; etag: string; checksumSha256?: string }[] | undefined> {
    const fileId = plan.fileId;
    const { partSize, partCount } = instruction;
    this.partCount = partCount;
    const sizeOf = (n: number) => (n < partCount ? partSize : source.size - partSize * (partCount - 1));
    const done = new Set<number>();
    const etags = new Map<number, string>();
    const checksums = new Map<number, string>();
    const listed = plan.listed;
    for (const p of listed.parts) {
      if (p.partNumber < 1 || p.partNumber > partCount || p.size !== sizeOf(p.partNumber)) continue;
      if (p.checksumSha256) {
        // Storage says what the part holds: skip it only if it holds these bytes.
        const start = (p.partNumber - 1) * partSize;
        const sum = await sha256Base64(await source.bytes(start, start + sizeOf(p.partNumber)));
        if (sum !== p.checksumSha256) continue;
        if (this.opts.checksum) checksums.set(p.partNumber, sum);
      }
      done.add(p.partNumber);
      if (p.etag) etags.set(p.partNumber, p.etag);
    }
    if (done.size) {
      this.stats.partsSkipped = done.size;
      this.opts.onResume?.({ fileId, partsPresent: done.size, partCount });
    }
    let bytesDone = 0;
    for (const n of done) bytesDone += sizeOf(n);
    this.sent = bytesDone;
    this.partsDone = done.size;
    this.samples = [{ t: Date.now(), bytes: bytesDone }];
    this.emit();

    const signed = new Map<number, SignedUrl>();
    if (instruction.parts?.length && instruction.partsExpireAt) {
      const expiresAtMs = Date.parse(instruction.partsExpireAt);
      const marginMs = Math.min(30_000, Math.max(0, (expiresAtMs - Date.now()) / 4));
      for (const p of instruction.parts) signed.set(p.partNumber, { ...p, expiresAtMs, marginMs });
    }
    const signing = new Map<number, Promise<void>>();
    const concurrency = Math.max(1, this.opts.concurrency ?? 4);
    const batchSize = Math.max(1, this.opts.signBatchSize ?? concurrency * 2);
    const sentOnce = new Set<number>();

    const sign = async (numbers: number[], signal: AbortSignal): Promise<void> => {
      this.stats.signRequests++;
      const withSums = numbers.filter((n) => checksums.has(n));
      const res = await this.api.request<SignPartsResponse>('POST', `/v1/uploads/${encodeURIComponent(fileId)}/parts`, {
        body: {
          partNumbers: numbers,
          ...(withSums.length ? { checksumsSha256: Object.fromEntries(withSums.map((n) => [String(n), checksums.get(n)!])) } : {}),
        },
        signal,
      });
      const now = Date.now();
      const expiresAtMs = Date.parse(res.expiresAt);
      const marginMs = Math.min(30_000, Math.max(0, (expiresAtMs - now) / 4));
      for (const p of res.parts) signed.set(p.partNumber, { ...p, expiresAtMs, marginMs });
    };

    const urlFor = async (n: number, queue: number[], signal: AbortSignal): Promise<SignedUrl> => {
      for (;;) {
        const cached = signed.get(n);
        if (usable(cached)) return cached;
        const inFlight = signing.get(n);
        if (inFlight) {
          await inFlight;
          if (signed.get(n) === cached) throw new StowageError(500, 'sign_failed', `part ${n} was not signed`);
          continue;
        }
        // With checksums every part is signed on its own (its checksum is part of the signature).
        const batch = [n];
        if (!this.opts.checksum) {
          for (const m of queue) {
            if (batch.length >= batchSize) break;
            if (!signing.has(m) && !usable(signed.get(m))) batch.push(m);
          }
        }
        const promise = sign(batch, signal).finally(() => {
          for (const m of batch) signing.delete(m);
        });
        for (const m of batch) signing.set(m, promise);
        await promise;
        const fresh = signed.get(n);
        if (!fresh) throw new StowageError(500, 'sign_failed', `part ${n} was not signed`);
        return fresh;
      }
    };

    const sendPart = async (n: number, queue: number[], signal: AbortSignal): Promise<void> => {
      const start = (n - 1) * partSize;
      const end = start + sizeOf(n);
      let body: Blob | Uint8Array;
      if (this.opts.checksum) {
        const bytes = await source.bytes(start, end);
        if (!checksums.has(n)) checksums.set(n, await sha256Base64(bytes));
        body = bytes;
      } else {
        body = await source.slice(start, end);
      }
      let resigns = 0;
      for (let attempt = 0; ; attempt++) {
        const url = await urlFor(n, queue, signal);
        if (!sentOnce.has(n)) {
          sentOnce.add(n);
          this.stats.partsSent.push(n);
        }
        const init = { method: 'PUT', headers: storageHeaders(url.headers), body: body as BodyInit };
        const outcome = await this.storageRequest(url.url, init, attempt, signal, url.expiresAtMs);
        if (typeof outcome === 'object') {
          if (outcome.etag) etags.set(n, outcome.etag);
          else etags.delete(n);
          break;
        }
        if (outcome === 'expired') {
          if (++resigns > 3) throw new StowageError(403, 'url_expired', `part ${n}: storage keeps refusing fresh URLs as expired`);
          this.stats.resigned++;
          signed.delete(n);
          attempt--;
        }
      }
      done.add(n);
      this.progressed(end - start, 1);
    };

    await this.pausable(async (generation) => {
      // This round's own signal: a part that fails for good stops the others without ending the pause generation.
      const round = new AbortController();
      const follow = () => round.abort(generation.reason);
      if (generation.aborted) follow();
      else generation.addEventListener('abort', follow, { once: true });
      const signal = round.signal;
      try {
        const queue: number[] = [];
        for (let n = 1; n <= partCount; n++) if (!done.has(n)) queue.push(n);
        const worker = async () => {
          for (let n = queue.shift(); n !== undefined; n = queue.shift()) {
            if (signal.aborted) throw abortError(signal.reason);
            await sendPart(n, queue, signal);
          }
        };
        const workers = Array.from({ length: Math.min(concurrency, queue.length) }, worker);
        const results = await Promise.allSettled(workers);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) {
          // One part failed for good: stop the others (a pause or an abort has already stopped them).
          if (!signal.aborted) round.abort(failed.reason);
          throw failed.reason;
        }
      } finally {
        generation.removeEventListener('abort', follow);
      }
    });
    if (etags.size !== partCount) return undefined;
    // With per-part checksums AWS wants each part's checksum in the list too (else it refuses it, and the server lists
    // the parts itself).
    return [...etags]
      .sort((a, b) => a[0] - b[0])
      .map(([partNumber, etag]) => ({ partNumber, etag, ...(checksums.has(partNumber) ? { checksumSha256: checksums.get(partNumber)! } : {}) }));
  }

  // ---- progress ----------------------------------------------------------------------------------------------------

  private progressed(bytes: number, parts: number): void {
    this.sent += bytes;
    this.partsDone += parts;
    const now = Date.now();
    this.samples.push({ t: now, bytes: this.sent });
    while (this.samples.length > 2 && now - this.samples[0].t > 5_000) this.samples.shift();
    this.emit();
  }

  private emit(): void {
    const progress = this.progress();
    for (const listener of this.listeners) {
      try {
        listener(progress);
      } catch {
        // a listener's bug must not break the upload
      }
    }
  }

  progress(): UploadProgress {
    let rate = 0;
    if (this.samples.length >= 2) {
      const first = this.samples[0];
      const last = this.samples[this.samples.length - 1];
      const seconds = (last.t - first.t) / 1000;
      if (seconds > 0) rate = (last.bytes - first.bytes) / seconds;
    }
    const remaining = this.total - this.sent;
    return {
      bytesSent: this.sent,
      total: this.total,
      rate,
      eta: remaining <= 0 ? 0 : rate > 0 ? remaining / rate : null,
      partsDone: this.partsDone,
      partCount: this.partCount,
    };
  }
}

/** Headers the server signed, minus those fetch sets itself (browsers refuse to set them). */
function storageHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    const name = k.toLowerCase();
    if (name === 'content-length' || name === 'host') continue;
    out[k] = v;
  }
  return out;
}


function randomHex(bytes: number): string {
  return Array.from(globalThis.crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The same media type (the server lower-cases it and keeps only a text type's charset). */
function sameContentType(stored: string, local: string): boolean {
  const essence = (t: string) => (t.split(';')[0] ?? '').trim().toLowerCase();
  return essence(stored) === essence(local);
}

/**
 * The same file name, allowing for the server's sanitising of what it stores (last path segment, no control or
 * awkward characters, trimmed; see src/domain/filename.ts). A name it changed otherwise does not match: the upload
 * then starts afresh, which is safe.
 */
function sameFilename(stored: string, local: string): boolean {
  if (stored === local) return true;
  // eslint-disable-next-line no-control-regex
  let s = local.normalize('NFC').replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/gu, '');
  s = s.split(/[/\\]/).pop() ?? '';
  s = s.replace(/["*:<>?|]/g, '_').replace(/\s+/g, ' ').trim().replace(/^[.\s]+/, '').replace(/[.\s]+$/, '');
  return stored === s;
}
