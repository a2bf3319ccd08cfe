// What can be uploaded: a Blob/File (browsers and Node) or, in Node, a path read with file-handle slices.
// Node modules are imported only on the path branch, so browser bundles never load them (mark `node:*` external).

export interface UploadSource {
  name: string;
  size: number;
  type: string;
  /** Milliseconds since the epoch; 0 when unknown. */
  lastModified: number;
  /**
   * The source has an identity of its own: a File's or a path's name, and a last-modified time. A plain Blob has
   * neither (every Blob would share `'blob'` and 0), so it gets no default fingerprint and is never resumed.
   */
  identified: boolean;
  /** Bytes [start, end) as a request body. Blob-backed sources answer Blob slices (not read into memory). */
  slice(start: number, end: number): Promise<Blob | Uint8Array>;
  /** Bytes [start, end) in memory (for checksums). */
  bytes(start: number, end: number): Promise<Uint8Array>;
  /** The whole content as a Blob for a form POST (file-backed in Node: not read into memory). */
  blob(): Promise<Blob>;
  /** SHA-256 of the whole content, base64. */
  sha256(): Promise<string>;
  close(): Promise<void>;
}

export type UploadInput = Blob | string;

export async function openSource(input: UploadInput, name?: string, type?: string): Promise<UploadSource> {
  if (typeof input === 'string') {
    const { openFileSource } = await import('./node-file.ts');
    return openFileSource(input, name, type);
  }
  return blobSource(input, name, type);
}

function blobSource(blob: Blob, name?: string, type?: string): UploadSource {
  const file = blob as Partial<File>;
  const ownName = typeof file.name === 'string' && file.name !== '' ? file.name : undefined;
  const lastModified = typeof file.lastModified === 'number' && file.lastModified > 0 ? file.lastModified : 0;
  return {
    name: name ?? ownName ?? 'blob',
    size: blob.size,
    type: type || blob.type || 'application/octet-stream',
    lastModified,
    identified: ownName !== undefined && lastModified > 0,
    async slice(start, end) {
      return blob.slice(start, end);
    },
    async bytes(start, end) {
      return new Uint8Array(await blob.slice(start, end).arrayBuffer());
    },
    async blob() {
      return blob;
    },
    async sha256() {
      // Web Crypto has no incremental digest; single uploads are below the multipart threshold.
      return sha256Base64(new Uint8Array(await blob.arrayBuffer()));
    },
    async close() {},
  };
}

export async function sha256Base64(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return toBase64(new Uint8Array(digest));
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * The default fingerprint: name, size and last-modified (the same file picked again after a reload or a restart gives
 * the same value), hashed so that it is short. Pass `fingerprint` to upload() to use your own (e.g. a content hash).
 * Undefined for a source without a name and a last-modified time of its own (a plain Blob): two different Blobs of the
 * same size would share it, and one would "resume" the other's upload.
 */
export async function defaultFingerprint(source: UploadSource): Promise<string | undefined> {
  if (!source.identified || !(source.lastModified > 0)) return undefined;
  return 'v1-' + (await sha256Hex(`${source.name}\u0000${source.size}\u0000${source.lastModified}`)).slice(0, 48);
}

/** Content type from the extension when the source has none (a short list; the server decides in the end). */
export function guessContentType(name: string): string | undefined {
  const ext = name.toLowerCase().split('.').pop() ?? '';
  const types: Record<string, string> = {
    png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', svg: 'image/svg+xml',
    pdf: 'application/pdf', txt: 'text/plain', csv: 'text/csv', json: 'application/json', zip: 'application/zip',
    gz: 'application/gzip', mp4: 'video/mp4', mov: 'video/quicktime', webm: 'video/webm', mp3: 'audio/mpeg',
    wav: 'audio/wav', bin: 'application/octet-stream',
  };
  return types[ext];
}
