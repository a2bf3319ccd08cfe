// The Stowage client SDK: typed, fetch only, for browsers and Node. Knows only the public HTTP API (docs/ARCHITECTURE.md).
//
//   const stowage = createClient({ baseUrl: 'https://uploads.example.com', getToken: () => myJwt() });
//   const upload = stowage.upload(fileOrBlobOrPath, { onProgress: (p) => console.log(p.bytesSent, p.eta) });
//   upload.pause(); upload.resume(); await upload.abort();
//   const file = await upload.done;           // FileView, status 'available'
//
// Browser bundles: mark `node:*` external (the path branch is only loaded in Node).
import { ApiTransport, toStowageError, type ClientOptions } from './api.ts';
import { UploadHandle, type UploadOptions } from './upload.ts';
import type { UploadInput } from './source.ts';
import type { DownloadLink, FileList, FileStatus, FileView, ListPartsResponse, Usage } from './types.ts';

export type { ClientOptions } from './api.ts';
export type { UploadOptions, UploadStats } from './upload.ts';
export type { UploadInput } from './source.ts';
export type * from './types.ts';
export { UploadHandle } from './upload.ts';
export { StowageError, isAbortError } from './errors.ts';

export interface StowageClient {
  /** Starts an upload at once; see UploadHandle for progress, pause/resume/abort and `done`. */
  upload(input: UploadInput, options?: UploadOptions): UploadHandle;
  listFiles(params?: { cursor?: string; limit?: number; status?: FileStatus; signal?: AbortSignal }): Promise<FileList>;
  /** Every file (follows the cursor). */
  allFiles(params?: { status?: FileStatus; signal?: AbortSignal }): AsyncGenerator<FileView>;
  getFile(id: string, signal?: AbortSignal): Promise<FileView>;
  deleteFile(id: string, signal?: AbortSignal): Promise<void>;
  /** A signed download URL. */
  downloadUrl(id: string, params?: { disposition?: 'attachment' | 'inline'; signal?: AbortSignal }): Promise<DownloadLink>;
  /** Fetches the file's bytes (the Response of the signed URL; throws on failure). */
  download(id: string, params?: { disposition?: 'attachment' | 'inline'; signal?: AbortSignal }): Promise<Response>;
  usage(signal?: AbortSignal): Promise<Usage>;
  /** Unfinished uploads, optionally of one fingerprint. */
  pendingUploads(fingerprint?: string, signal?: AbortSignal): Promise<FileView[]>;
  listParts(uploadId: string, signal?: AbortSignal): Promise<ListPartsResponse>;
  /** Aborts an unfinished upload on the server (idempotent). */
  abortUpload(uploadId: string, signal?: AbortSignal): Promise<void>;
}

export function createClient(options: ClientOptions): StowageClient {
  const api = new ApiTransport(options);
  const id = encodeURIComponent;
  const client: StowageClient = {
    upload: (input, opts) => new UploadHandle(api, input, opts),
    listFiles: ({ cursor, limit, status, signal } = {}) =>
      api.request<FileList>('GET', '/v1/files', { query: { cursor, limit, status }, signal }),
    async *allFiles({ status, signal } = {}) {
      let cursor: string | undefined;
      do {
        const page = await client.listFiles({ cursor, status, signal });
        yield* page.items;
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
    },
    getFile: async (fileId, signal) => (await api.request<{ file: FileView }>('GET', `/v1/files/${id(fileId)}`, { signal })).file,
    deleteFile: (fileId, signal) => api.request<void>('DELETE', `/v1/files/${id(fileId)}`, { signal }),
    downloadUrl: (fileId, { disposition, signal } = {}) =>
      api.request<DownloadLink>('GET', `/v1/files/${id(fileId)}/download`, { query: { disposition }, signal }),
    async download(fileId, params = {}) {
      const { url } = await client.downloadUrl(fileId, params);
      const res = await api.fetch(url, { signal: params.signal });
      if (!res.ok) {
        throw await toStowageError(res);
      }
      return res;
    },
    usage: (signal) => api.request<Usage>('GET', '/v1/usage', { signal }),
    pendingUploads: async (fingerprint, signal) =>
      (await api.request<{ items: FileView[] }>('GET', '/v1/uploads', { query: { status: 'pending', fingerprint }, signal }))
        .items,
    listParts: (uploadId, signal) => api.request<ListPartsResponse>('GET', `/v1/uploads/${id(uploadId)}/parts`, { signal }),
    abortUpload: (uploadId, signal) => api.request<void>('DELETE', `/v1/uploads/${id(uploadId)}`, { signal }),
  };
  return client;
}
