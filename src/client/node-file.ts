// Node-only: a file on disk as an UploadSource, read with positioned reads of one part at a time.
import { createReadStream, openAsBlob } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { guessContentType, type UploadSource } from './source.ts';

export async function openFileSource(path: string, name?: string, type?: string): Promise<UploadSource> {
  const info = await stat(path);
  if (!info.isFile()) throw new TypeError(`${path} is not a file`);
  const handle = await open(path, 'r');
  const filename = name ?? basename(path);
  const bytes = async (start: number, end: number): Promise<Uint8Array> => {
    const buf = Buffer.allocUnsafe(end - start);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, start + filled);
      if (bytesRead === 0) throw new Error(`${path} shrank while it was being uploaded`);
      filled += bytesRead;
    }
    return buf;
  };
  const contentType = type || guessContentType(filename) || 'application/octet-stream';
  // A file-backed Blob (fs.openAsBlob, Node ≥ 19.8): fetch streams its slices with their exact Content-Length, so
  // neither a single PUT nor a part is read into memory. It refuses to read once the file changed on disk.
  let fileBlob: Blob | undefined;
  const whole = async (): Promise<Blob> => (fileBlob ??= await openAsBlob(path, { type: contentType }));
  return {
    name: filename,
    size: info.size,
    type: contentType,
    lastModified: Math.floor(info.mtimeMs),
    identified: info.mtimeMs > 0,
    async slice(start, end) {
      return (await whole()).slice(start, end);
    },
    bytes,
    blob: whole,
    async sha256() {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
      return hash.digest('base64');
    },
    async close() {
      await handle.close();
    },
  };
}
