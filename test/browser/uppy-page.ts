// Bundled with esbuild into the test page: the official @uppy/core + @uppy/aws-s3, unmodified, pointed at Stowage's
// Companion-compatible endpoint. window.uppyUpload(endpoint, size) makes a file of random bytes in the page, uploads it
// and answers what Uppy reported plus the SHA-256 of the bytes it sent.
import Uppy from '@uppy/core';
import AwsS3 from '@uppy/aws-s3';

declare global {
  interface Window {
    uppyUpload: (
      endpoint: string,
      size: number,
      name: string,
      type: string,
    ) => Promise<{ ok: boolean; sha256: string; key?: string; location?: string; error?: string }>;
  }
}

function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  // getRandomValues fills at most 64 KiB per call: fill 1 MiB, then repeat it (with a per-MiB counter so parts differ).
  const block = new Uint8Array(1 << 20);
  for (let i = 0; i < block.length; i += 65536) crypto.getRandomValues(block.subarray(i, i + 65536));
  const out = new Uint8Array(size);
  for (let off = 0, n = 0; off < size; off += block.length, n++) {
    out.set(block.subarray(0, Math.min(block.length, size - off)), off);
    new DataView(out.buffer).setUint32(off, n);
  }
  return out;
}

function hex(buf: ArrayBuffer): string {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
}

window.uppyUpload = async (endpoint, size, name, type) => {
  const bytes = randomBytes(size);
  // A fixed ASCII start: random bytes could by chance look like some format to the magic-byte check.
  bytes.set(new TextEncoder().encode('STOWAGE-UPPY-TEST\n'), 0);
  const sha256 = hex(await crypto.subtle.digest('SHA-256', bytes));
  const uppy = new Uppy({ autoProceed: false });
  uppy.use(AwsS3, { companionEndpoint: endpoint });
  uppy.addFile({ name, type, data: new Blob([bytes], { type }) });
  try {
    const result = await uppy.upload();
    const ok = result?.successful?.[0];
    if (!ok) {
      const failed = result?.failed?.[0];
      return { ok: false, sha256, error: String(failed?.error ?? 'no successful file') };
    }
    const body = (ok.response?.body ?? {}) as { key?: string; location?: string };
    return { ok: true, sha256, key: body.key, location: body.location ?? ok.response?.uploadURL };
  } catch (err) {
    return { ok: false, sha256, error: String(err) };
  } finally {
    uppy.destroy();
  }
};
